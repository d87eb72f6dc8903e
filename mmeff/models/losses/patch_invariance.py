"""Patch-invariance loss of EMP-SSL.

Tong, Chen, Ma, LeCun (2023), "EMP-SSL", eq. (2): every patch embedding is
pulled towards the mean embedding of all patches of the same image,

    D = -1/n * sum_i mean_b cos(z_ib, zbar_b),  zbar_b = 1/n * sum_i z_ib,

and the total objective is ``-mean_i R(Z_i) + lambda_inv * D``. As in the
released code, the patch mean is not normalised and gradients flow through
it (the cosine is scale-invariant, so only its direction matters).
"""
from mmpretrain.registry import MODELS
from torch import nn


def mean_cosine_to_patch_mean(z, eps=1e-8):
    """Mean over patches and images of ``cos(z[i, b], mean_i z[i, b])``.

    ``z`` is ``[n, m, d]``. A zero vector has cosine 0 to anything (the
    norms are clamped at ``eps``), so degenerate inputs stay finite.
    """
    if z.dim() != 3 or z.shape[0] < 1 or z.shape[1] < 1:
        raise ValueError('patch invariance: expected z of shape '
                         f'[num_patches, batch, dim], got {tuple(z.shape)}')
    center = z.mean(0, keepdim=True)
    # Explicit clamped norms rather than F.cosine_similarity: its gradient
    # at an all-zero input is NaN on some torch versions.
    z_unit = z / z.norm(dim=-1, keepdim=True).clamp_min(eps)
    c_unit = center / center.norm(dim=-1, keepdim=True).clamp_min(eps)
    return (z_unit * c_unit).sum(-1).mean()


@MODELS.register_module()
class PatchInvarianceLoss(nn.Module):
    """``-loss_weight * mean cos(z_ib, zbar_b)``.

    Args:
        loss_weight (float): ``lambda_inv``. Defaults to 200, the paper's and
            released code's value (``--patch_sim 200``).
    """

    def __init__(self, loss_weight=200.0):
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self, z):
        return -self.loss_weight * mean_cosine_to_patch_mean(z)

    def extra_repr(self):
        return f'loss_weight={self.loss_weight}'
