"""Total coding rate (TCR) loss of EMP-SSL.

Tong, Chen, Ma, LeCun (2023), "EMP-SSL: Towards Self-Supervised Learning in
One Training Epoch", eq. (1): for m embeddings of dimension d stacked as the
rows of ``Z`` (m x d),

    R(Z) = 1/2 * logdet(I_d + d / (m * eps) * Z^T Z),

the coding rate of a Gaussian source at distortion ``eps``. EMP-SSL computes
it separately for every patch index i (the i-th patch of each image in the
batch) and maximises the mean, which spreads the embeddings over the sphere
and prevents collapse.
"""
import torch
from mmpretrain.registry import MODELS
from torch import nn


def total_coding_rate(z, eps=0.2):
    """Return ``R(Z)`` for ``z`` of shape ``[..., m, d]`` (one per leading index).

    By Sylvester's determinant identity, ``logdet(I_d + c Z^T Z) =
    logdet(I_m + c Z Z^T)``: the smaller Gram matrix is factorised (100 x 100
    instead of 1024 x 1024 for the paper's batch of 100 and d = 1024), which is
    exact. The matrix is symmetric with eigenvalues >= 1, so a Cholesky
    factorisation always exists and gives the log-determinant as
    ``2 * sum(log(diag(L)))``. Computed in float32 or wider even under AMP.

    Raises:
        ValueError: ``z`` has fewer than 2 dimensions, no rows, or ``eps <= 0``.
    """
    if z.dim() < 2 or z.shape[-2] < 1 or z.shape[-1] < 1:
        raise ValueError('total_coding_rate: z must be [..., m, d] with m >= 1 '
                         f'and d >= 1, got shape {tuple(z.shape)}')
    if not eps > 0:
        raise ValueError(f'total_coding_rate: eps must be > 0, got {eps}')
    if z.dtype not in (torch.float32, torch.float64):
        z = z.float()
    m, d = z.shape[-2], z.shape[-1]
    scale = d / (m * eps)
    with torch.autocast(z.device.type, enabled=False):
        gram = z @ z.transpose(-1, -2) if m <= d else \
            z.transpose(-1, -2) @ z
        eye = torch.eye(gram.shape[-1], dtype=z.dtype, device=z.device)
        chol = torch.linalg.cholesky(eye + scale * gram)
        return torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)


@MODELS.register_module()
class TotalCodingRateLoss(nn.Module):
    """Negative mean total coding rate over patch indices.

    Args:
        eps (float): distortion ``eps`` of the coding rate. Defaults to 0.2,
            the value of the paper and its released code.
        loss_weight (float): multiplier of the loss (the released code's
            ``--tcr`` coefficient). Defaults to 1.0.

    ``forward(z)`` takes ``z`` of shape ``[n, m, d]``: n patch indices, m
    images, d-dimensional embeddings (L2-normalised in EMP-SSL) and returns
    ``-loss_weight * mean_i R(z[i])``.
    """

    def __init__(self, eps=0.2, loss_weight=1.0):
        super().__init__()
        if not eps > 0:
            raise ValueError(f'TotalCodingRateLoss: eps must be > 0, got {eps}')
        self.eps = float(eps)
        self.loss_weight = float(loss_weight)

    def forward(self, z):
        if z.dim() != 3:
            raise ValueError('TotalCodingRateLoss: expected z of shape '
                             f'[num_patches, batch, dim], got {tuple(z.shape)}')
        return -self.loss_weight * total_coding_rate(z, self.eps).mean()

    def extra_repr(self):
        return f'eps={self.eps}, loss_weight={self.loss_weight}'
