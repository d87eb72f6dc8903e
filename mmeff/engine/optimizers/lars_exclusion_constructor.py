"""Exclude biases and normalisation parameters from LARS and weight decay."""
from mmengine.optim import DefaultOptimWrapperConstructor
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LARSExclusionOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Mark every 1-D parameter ``lars_exclude=True`` with weight decay 0.

    EMP-SSL (Tong et al., 2023) and the LARS recipes of SimCLR / BYOL exclude
    biases and BatchNorm/LayerNorm affine parameters from layer adaptation and
    weight decay. The released EMP-SSL code selects them by ``p.ndim == 1``;
    so does this constructor, which, unlike name matching (``'bn'``,
    ``'bias'`` custom keys), also covers projector norms, timm backbones and
    LayerNorms. Works with MMPretrain's ``LARS`` and mmeff's
    ``LARSWrappedSGD`` (both read ``lars_exclude``); other ``paramwise_cfg``
    options still apply to the remaining parameters.
    """

    def __init__(self, optim_wrapper_cfg, paramwise_cfg=None):
        paramwise_cfg = dict(paramwise_cfg or {})
        # A non-empty paramwise_cfg makes the parent build one group per
        # parameter, which the exclusion flags need.
        paramwise_cfg.setdefault('flat_decay_mult', 0.)
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def __call__(self, model):
        optim_wrapper = super().__call__(model)
        for group in optim_wrapper.optimizer.param_groups:
            if group['params'] and all(p.ndim <= 1 for p in group['params']):
                group['lars_exclude'] = True
                group['weight_decay'] = 0.
        return optim_wrapper
