"""EMAE's self-consistency loss between parts' predictions."""
import itertools

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS


@MODELS.register_module()
class SelfConsistencyLoss(BaseModule):
    """Agreement of K parts' predictions on patches hidden from both.

    EMAE (Li et al., 2023, arXiv:2302.14431): for every pair of parts (i, j)
    and every patch masked in both, the two predictions should agree. With a
    symmetric stop-gradient each side is pulled towards the other's detached
    prediction::

        L_ij = mean over shared masked patches of
               crit(sg(p_i), p_j) + crit(p_i, sg(p_j))

    and the loss is the mean of L_ij over the K(K-1)/2 pairs. The per-patch
    distance is the mean over the patch's values. The paper's body was not
    available; this form follows its abstract and a public re-implementation
    (L1, symmetric stop-gradient). With K=2 no patch is masked in both parts
    and the loss is 0.

    ``average_over`` decides what the sum over patches is divided by. The
    public re-implementation (lynu1818/improve_mae, ``modeling/vit_emae.py``,
    weight 1.0) divides by all N patches of the image, so patches visible to
    either part count as zeros; ``'shared'`` divides by the patches hidden
    from both parts. Each pair of K disjoint parts shares N(K-2)/K hidden
    patches, so ``'all'`` equals ``(K-2)/K`` times ``'shared'``: at K=4 the
    released weight 1.0 with ``'all'`` is weight 0.5 with ``'shared'``.

    Args:
        criterion (str): 'L1' (default) or 'L2'.
        average_over (str): 'all' (default; the public re-implementation's
            normalisation) or 'shared'.
    """

    def __init__(self, criterion: str = 'L1', average_over: str = 'all'):
        super().__init__()
        if criterion not in ('L1', 'L2'):
            raise ValueError(f"criterion={criterion!r}: use 'L1' or 'L2'")
        if average_over not in ('all', 'shared'):
            raise ValueError(f"average_over={average_over!r}: use 'all' or "
                             "'shared'")
        self.criterion = criterion
        self.average_over = average_over

    def distance(self, a, b):
        diff = a - b
        return (diff.abs() if self.criterion == 'L1' else diff.pow(2)).mean(-1)

    def forward(self, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """
        Args:
            pred (Tensor): ``[K, B, N, D]`` predictions of every patch.
            mask (Tensor): ``[K, B, N]``, 1 where the patch was hidden.
        """
        num_parts = pred.shape[0]
        total = pred.new_zeros(())
        for i, j in itertools.combinations(range(num_parts), 2):
            shared = mask[i] * mask[j]
            count = shared.sum() if self.average_over == 'shared' \
                else shared.numel()
            if shared.sum() == 0:
                continue
            per_patch = self.distance(pred[i].detach(), pred[j]) + \
                self.distance(pred[i], pred[j].detach())
            total = total + (per_patch * shared).sum() / count
        return total / (num_parts * (num_parts - 1) / 2)
