"""Soft-label distillation loss of SRe2L's student training."""
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import nn

from .presets import STUDENT_TEMPERATURE


@MODELS.register_module()
class SoftLabelKLLoss(nn.Module):
    """``KL(softmax(t/T) || softmax(s/T))`` against stored logits.

    SRe2L (Yin, Xing, Shen, NeurIPS 2023) trains the student on the
    relabelled crops with this FKD-style loss at ``T = 20``: ``t`` are the
    teacher's logits on the crop, ``s`` the student's. It is what PyTorch's
    ``KLDivLoss(reduction='batchmean')(log_softmax(s/T), softmax(t/T))``
    computes, as the released student training does
    (VILA-Lab/SRe2L, ``SRe2L/validate/train_FKD.py``, ``-T 20`` in
    ``train_FKD.sh``), which does not multiply by ``T^2`` (its line doing
    so is commented out).

    Use it as the ``loss`` of an MMPretrain ``ClsHead``: the head passes the
    stacked ``gt_score`` of the data samples, which
    :class:`~mmeff.condense.soft_labels.RelabelledDataset` fills with the
    teacher's logits.

    Args:
        temperature (float): ``T``; the released 20.
        t_squared (bool): multiply by ``T^2`` (Hinton et al., 2015: keeps
            gradient magnitudes comparable across temperatures). Off in the
            released code; mmeff's earlier default.
        loss_weight (float): factor on the loss.
    """

    def __init__(self, temperature=STUDENT_TEMPERATURE, t_squared=False,
                 loss_weight=1.):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'SoftLabelKLLoss: temperature must be > 0, '
                             f'got {temperature}')
        self.temperature = float(temperature)
        self.t_squared = bool(t_squared)
        self.loss_weight = float(loss_weight)

    def forward(self, cls_score, target, weight=None, avg_factor=None,
                reduction_override=None, **kwargs):
        if target.dim() != 2 or target.shape != cls_score.shape:
            raise ValueError(
                'SoftLabelKLLoss: targets must be teacher logits of shape '
                f'{tuple(cls_score.shape)}, got {tuple(target.shape)} (train '
                'on a RelabelledDataset)')
        t = self.temperature
        log_p = F.log_softmax(cls_score / t, dim=1)
        q = F.softmax(target.float() / t, dim=1)
        per_sample = F.kl_div(log_p, q, reduction='none').sum(1)
        if weight is not None:
            per_sample = per_sample * weight
        scale = t * t if self.t_squared else 1.
        return self.loss_weight * scale * per_sample.mean()
