"""Soft-label distillation loss of SRe2L's student training."""
import torch.nn.functional as F
from torch import nn

from mmpretrain.registry import MODELS


@MODELS.register_module()
class SoftLabelKLLoss(nn.Module):
    """``T^2 * KL(softmax(t/T) || softmax(s/T))`` against stored logits.

    SRe2L (Yin, Xing, Shen, NeurIPS 2023) trains the student on the
    relabelled crops with this FKD-style loss at ``T = 20`` (the paper's
    temperature for ImageNet-1K and Tiny-ImageNet): ``t`` are the teacher's
    logits on the crop, ``s`` the student's. It is what PyTorch's
    ``KLDivLoss(log_softmax(s/T), softmax(t/T))`` computes, averaged over the
    batch; the ``T^2`` factor (Hinton et al., 2015) keeps gradient magnitudes
    comparable across temperatures.

    Use it as the ``loss`` of an MMPretrain ``ClsHead``: the head passes the
    stacked ``gt_score`` of the data samples, which
    :class:`~mmeff.condense.soft_labels.RelabelledDataset` fills with the
    teacher's logits.
    """

    def __init__(self, temperature=20., loss_weight=1.):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'SoftLabelKLLoss: temperature must be > 0, '
                             f'got {temperature}')
        self.temperature = float(temperature)
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
        return self.loss_weight * t * t * per_sample.mean()
