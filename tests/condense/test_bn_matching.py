"""The recover prior: sum_l a_l (||mu_l - mu_BN,l|| + ||var_l - var_BN,l||)."""
import pytest
import torch
from torch import nn

from mmeff.condense import BNStatsMatcher, NoBatchNormError


def tiny_net():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                        nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1),
                        nn.BatchNorm2d(6), nn.ReLU())
    for bn in (net[1], net[4]):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
    return net.eval()


def test_loss_equals_an_independent_computation():
    net, x = tiny_net(), torch.randn(5, 3, 8, 8)
    with BNStatsMatcher(net, first_bn_multiplier=10.) as matcher:
        net(x)
        loss = matcher.loss()
    # By hand: the inputs of both BN layers, their per-channel batch mean
    # and biased variance, L2 distances, weight 10 on the first layer.
    expected = 0.
    h = x
    for weight, (conv, bn) in zip((10., 1.), ((net[0], net[1]),
                                             (net[3], net[4]))):
        h = conv(h)
        n = h.shape[0] * h.shape[2] * h.shape[3]
        mean = h.sum((0, 2, 3)) / n
        var = ((h - mean[None, :, None, None])**2).sum((0, 2, 3)) / n
        expected += weight * (((mean - bn.running_mean)**2).sum().sqrt() +
                              ((var - bn.running_var)**2).sum().sqrt())
        h = torch.relu(bn(h))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_loss_is_zero_when_the_batch_has_the_running_statistics():
    net, x = tiny_net(), torch.randn(5, 3, 8, 8)
    # Give each BN layer, in order, exactly the statistics its input has
    # (later inputs depend on the earlier layers' new statistics).
    for bn in (net[1], net[4]):
        seen = {}
        handle = bn.register_forward_hook(
            lambda m, i, o: seen.setdefault('x', i[0].detach()))
        net(x)
        handle.remove()
        flat = seen['x'].transpose(0, 1).flatten(1)
        bn.running_mean.copy_(flat.mean(1))
        bn.running_var.copy_(flat.var(1, unbiased=False))
    with BNStatsMatcher(net) as matcher:
        net(x)
        assert matcher.loss().item() == pytest.approx(0., abs=1e-5)
        net(x + 1.)  # and it does measure a shift
        assert matcher.loss().item() > 1.


def test_gradient_reaches_the_input():
    net = tiny_net()
    x = torch.randn(5, 3, 8, 8, requires_grad=True)
    with BNStatsMatcher(net) as matcher:
        net(x)
        matcher.loss().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_hooks_are_removed_on_exit():
    net = tiny_net()
    with BNStatsMatcher(net):
        assert net[1]._forward_hooks
    assert not net[1]._forward_hooks and not net[4]._forward_hooks


def test_teacher_without_batchnorm_is_refused():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.GroupNorm(2, 4))
    with pytest.raises(NoBatchNormError, match='net.py has no BatchNorm'):
        BNStatsMatcher(net, name='net.py')
