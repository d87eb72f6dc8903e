"""PatchInvarianceLoss: -lambda * mean cos(z_ib, mean_i z_ib), EMP-SSL eq. (2)."""
import numpy as np
import pytest
import torch
from mmpretrain.registry import MODELS

from mmeff.models.losses import PatchInvarianceLoss, mean_cosine_to_patch_mean


def reference_mean_cosine(z):
    z = np.asarray(z, dtype=np.float64)  # [n, m, d]
    center = z.mean(0)
    cos = [[z[i, b] @ center[b] / np.linalg.norm(z[i, b]) /
            np.linalg.norm(center[b]) for b in range(z.shape[1])]
           for i in range(z.shape[0])]
    return float(np.mean(cos))


def test_equals_mean_cosine_to_patch_mean():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(6, 9, 32, generator=gen)
    expected = reference_mean_cosine(z.numpy())
    assert mean_cosine_to_patch_mean(z).item() == pytest.approx(expected, rel=1e-5)
    loss = PatchInvarianceLoss(loss_weight=3.0)(z)
    assert loss.item() == pytest.approx(-3.0 * expected, rel=1e-5)


def test_paper_default_weight_and_registry():
    assert MODELS.build(dict(type='PatchInvarianceLoss')).loss_weight == 200.0


def test_identical_patches_reach_the_minimum():
    z = torch.randn(1, 4, 16).expand(5, 4, 16)
    assert PatchInvarianceLoss(1.0)(z).item() == pytest.approx(-1.0, abs=1e-6)


@pytest.mark.parametrize('case', ['zeros', 'batch_of_one', 'one_zero_patch'])
def test_degenerate_inputs_are_finite(case):
    z = torch.randn(4, 1, 8) if case == 'batch_of_one' else torch.randn(4, 3, 8)
    if case == 'zeros':
        z = torch.zeros(4, 3, 8)
    if case == 'one_zero_patch':
        z[0, 0] = 0
    z.requires_grad_()
    loss = PatchInvarianceLoss()(z)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    if case == 'zeros':
        assert loss.item() == 0.0


def test_wrong_shape_raises():
    with pytest.raises(ValueError, match=r'\[num_patches, batch, dim\]'):
        PatchInvarianceLoss()(torch.randn(4, 8))
