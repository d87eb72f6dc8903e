"""EMP-SSL's loss head (Tong, Chen, Ma, LeCun, 2023).

Released code: tsb0601/EMP-SSL, ``main.py`` (``Similarity_Loss``,
``cal_TCR``, ``loss = patch_sim * loss_contract + tcr * loss_TCR``).
"""
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS


@MODELS.register_module()
class EMPSSLHead(BaseModule):
    """Total-coding-rate and patch-invariance losses on ``z [n, B, d]``.

    Defaults: eps = 0.2, lambda_inv = 200 (paper and released code).
    """

    def __init__(self, tcr_loss=None, invariance_loss=None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.tcr_loss = MODELS.build(
            tcr_loss or dict(type='TotalCodingRateLoss', eps=0.2))
        self.invariance_loss = MODELS.build(
            invariance_loss or dict(type='PatchInvarianceLoss',
                                    loss_weight=200.))

    def loss(self, z):
        loss_inv = self.invariance_loss(z)
        losses = dict(loss_tcr=self.tcr_loss(z), loss_inv=loss_inv)
        weight = getattr(self.invariance_loss, 'loss_weight', 0)
        if weight:  # logged, not optimised: the mean cosine itself
            losses['cos_to_mean'] = (-loss_inv / weight).detach()
        return losses
