"""TotalCodingRateLoss: R(Z) = 1/2 logdet(I + d/(m eps) Z^T Z), EMP-SSL eq. (1)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from mmeff.models.losses import TotalCodingRateLoss, total_coding_rate


def reference_rate(z, eps):
    """Independent float64 numpy evaluation of the definition (d x d form)."""
    z = np.asarray(z, dtype=np.float64)
    m, d = z.shape
    sign, logdet = np.linalg.slogdet(np.eye(d) + d / (m * eps) * z.T @ z)
    assert sign > 0
    return 0.5 * logdet


@pytest.mark.parametrize('m,d', [(100, 32), (8, 64), (64, 64), (1, 16)])
def test_rate_matches_float64_logdet_definition(m, d):
    gen = torch.Generator().manual_seed(m * 1000 + d)
    z = F.normalize(torch.randn(m, d, generator=gen), dim=1)
    expected = reference_rate(z.numpy(), 0.2)
    assert total_coding_rate(z, 0.2).item() == pytest.approx(expected, rel=1e-5)
    assert total_coding_rate(z.double(), 0.2).item() == pytest.approx(
        expected, rel=1e-10)


def test_loss_is_minus_mean_rate_over_patch_indices():
    gen = torch.Generator().manual_seed(0)
    z = F.normalize(torch.randn(5, 20, 48, generator=gen), dim=-1)
    expected = np.mean([reference_rate(z[i].numpy(), 0.3) for i in range(5)])
    loss = TotalCodingRateLoss(eps=0.3, loss_weight=2.0)(z)
    assert loss.item() == pytest.approx(-2.0 * expected, rel=1e-5)


def test_paper_defaults_and_registry():
    loss = MODELS.build(dict(type='TotalCodingRateLoss'))
    assert loss.eps == 0.2 and loss.loss_weight == 1.0


def test_gradient_matches_float64_autograd_of_definition():
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(3, 10, 24, generator=gen, dtype=torch.float64)
    z1 = z.clone().requires_grad_()
    TotalCodingRateLoss()(z1).backward()
    z2 = z.clone().requires_grad_()
    eye = torch.eye(24, dtype=torch.float64)
    rates = [0.5 * torch.logdet(eye + 24 / (10 * 0.2) * zi.T @ zi) for zi in z2]
    (-torch.stack(rates).mean()).backward()
    torch.testing.assert_close(z1.grad, z2.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('case', ['identical', 'zeros', 'batch_of_one'])
def test_degenerate_inputs_are_finite_with_finite_gradients(case):
    if case == 'identical':
        z = F.normalize(torch.ones(4, 10, 16), dim=-1)  # rank one
    elif case == 'zeros':
        z = torch.zeros(4, 10, 16)
    else:
        z = F.normalize(torch.randn(4, 1, 16), dim=-1)
    z.requires_grad_()
    loss = TotalCodingRateLoss()(z)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    if case == 'zeros':
        assert loss.item() == 0.0  # logdet(I) = 0
    if case == 'identical':  # rank one: R = 1/2 log(1 + d/(m eps) * m)
        assert loss.item() == pytest.approx(-0.5 * np.log(1 + 16 / 0.2), rel=1e-5)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match=r'\[num_patches, batch, dim\]'):
        TotalCodingRateLoss()(torch.randn(10, 16))
    with pytest.raises(ValueError, match='m >= 1'):
        TotalCodingRateLoss()(torch.randn(2, 0, 16))
    with pytest.raises(ValueError, match='eps must be > 0'):
        TotalCodingRateLoss(eps=0)
