"""EMP-SSL's optimizer: LARS-wrapped SGD with biases and norms excluded."""
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from torch import nn

import mmeff  # noqa: F401
from mmeff.engine.optimizers import LARSWrappedSGD

RECIPE = dict(type='OptimWrapper',
              constructor='LARSExclusionOptimWrapperConstructor',
              optimizer=dict(type='LARSWrappedSGD', lr=0.3, momentum=0.9,
                             weight_decay=1e-4, nesterov=True, eta=0.005,
                             clip=True))


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4),
                         nn.Flatten(), nn.Linear(4 * 6 * 6, 8),
                         nn.LayerNorm(8), nn.Linear(8, 2))


@pytest.mark.parametrize('optimizer', [
    RECIPE['optimizer'], dict(type='LARS', lr=0.3, momentum=0.9,
                              weight_decay=1e-4)])
def test_biases_and_norms_excluded_from_adaptation_and_decay(optimizer):
    """Works for mmeff's LARSWrappedSGD and MMPretrain's LARS alike."""
    net = small_net()
    wrapper = build_optim_wrapper(net, dict(RECIPE, optimizer=optimizer))
    flags = {}
    for group in wrapper.optimizer.param_groups:
        (param,) = group['params']
        flags[param.ndim] = flags.get(param.ndim, set()) | {
            (group.get('lars_exclude', False), group['weight_decay'])}
    assert flags[1] == {(True, 0.0)}  # biases, BN and LN affine parameters
    assert flags[2] == flags[4] == {(False, 1e-4)}  # linear and conv weights
    n_excluded = sum(g.get('lars_exclude', False)
                     for g in wrapper.optimizer.param_groups)
    assert n_excluded == 2 + 2 + 2  # BN w, b; LN w, b; two linear biases


def nesterov_first_step(p, d, lr, m):
    # First step: buffer = d; Nesterov update = d + m * buffer.
    return p - lr * (1 + m) * d


def test_adapted_step_matches_lars_wrapper_formula():
    w = torch.randn(5, 4)
    g = torch.randn(5, 4) * 10
    for lr, eta in ((0.3, 0.005), (1e-4, 0.005)):  # clipped below, at 1
        p = nn.Parameter(w.clone())
        p.grad = g.clone()
        LARSWrappedSGD([p], lr=lr, eta=eta).step()
        ratio = eta * w.norm() / (g.norm() + 1e-4 * w.norm() + 1e-8)
        ratio = min(ratio / lr, 1.0)
        expected = nesterov_first_step(w, (g + 1e-4 * w) * ratio, lr, 0.9)
        torch.testing.assert_close(p.data, expected)


def test_excluded_parameter_takes_plain_sgd_step_without_decay():
    w, g = torch.randn(6), torch.randn(6)
    p = nn.Parameter(w.clone())
    p.grad = g.clone()
    opt = LARSWrappedSGD([dict(params=[p], lars_exclude=True)], lr=0.3)
    opt.step()
    torch.testing.assert_close(p.data, nesterov_first_step(w, g, 0.3, 0.9))
    assert opt.param_groups[0]['weight_decay'] == 1e-4  # restored after step


def test_zero_weight_is_not_rescaled():
    p = nn.Parameter(torch.zeros(3, 3))
    p.grad = torch.ones(3, 3)
    LARSWrappedSGD([p], lr=0.1, momentum=0., nesterov=False).step()
    torch.testing.assert_close(p.data, torch.full((3, 3), -0.1))


def test_invalid_eta_raises():
    with pytest.raises(ValueError, match='eta'):
        LARSWrappedSGD([nn.Parameter(torch.ones(1))], lr=0.1, eta=-1)
