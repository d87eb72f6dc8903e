"""LARS-wrapped SGD, the optimizer of EMP-SSL's released code.

Tong, Chen, Ma, LeCun (2023), "EMP-SSL": SGD (lr 0.3, momentum 0.9, Nesterov,
weight decay 1e-4) wrapped by solo-learn's LARS wrapper with trust
coefficient eta = 0.005, clipping on, and biases / normalisation parameters
(every 1-D parameter) excluded from both layer adaptation and weight decay.

MMPretrain's ``LARS`` multiplies the learning rate by the trust ratio without
clipping, so its step is ``lr * eta * trust`` instead of the wrapper's
``min(eta * trust, lr)``: with lr = 0.3 and the clip inactive it is 0.3x the
released code's step, and it is never capped at the global LR. This
optimizer keeps SGD's update (subclassing ``torch.optim.SGD``) and rescales
each gradient first, as the wrapper does. It honours MMPretrain's
``lars_exclude`` param-group key, so MMPretrain's paramwise ``custom_keys``
configs and :class:`LARSExclusionOptimWrapperConstructor` both work with it.
"""
import torch
from mmpretrain.registry import OPTIMIZERS


@OPTIMIZERS.register_module()
class LARSWrappedSGD(torch.optim.SGD):
    """SGD with a per-parameter LARS rescaling of the gradient.

    For a parameter ``p`` not excluded, with gradient ``g``::

        ratio = eta * |p| / (|g| + weight_decay * |p| + eps)
        ratio = min(ratio / lr, 1)           # when clip
        g <- (g + weight_decay * p) * ratio

    then SGD steps with momentum and no further weight decay. Excluded
    parameters (param group ``lars_exclude=True``) take a plain SGD step
    without weight decay. Parameters or gradients of norm zero are not
    rescaled and not decayed (the wrapper's behaviour).

    Args:
        params: parameters or param groups.
        lr (float): learning rate. The paper uses 0.3 at 100 images/batch.
        momentum (float): Defaults to 0.9 (paper).
        weight_decay (float): Defaults to 1e-4 (paper).
        nesterov (bool): Defaults to True (released code).
        eta (float): trust coefficient. Defaults to 0.005 (released code).
        clip (bool): clip the adapted LR at the global LR. Defaults to True
            (released code).
        eps (float): Defaults to 1e-8.
    """

    def __init__(self, params, lr, momentum=0.9, weight_decay=1e-4,
                 nesterov=True, eta=0.005, clip=True, eps=1e-8, dampening=0.):
        if eta < 0:
            raise ValueError(f'LARSWrappedSGD: eta must be >= 0, got {eta}')
        super().__init__(params, lr=lr, momentum=momentum,
                         dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov)
        self.eps = eps
        self.defaults.update(eta=eta, clip=clip, lars_exclude=False)
        for group in self.param_groups:
            for key in ('eta', 'clip', 'lars_exclude'):
                group.setdefault(key, self.defaults[key])

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        decays = [group['weight_decay'] for group in self.param_groups]
        for group, decay in zip(self.param_groups, decays):
            # Decay is folded into the rescaled gradient (or skipped), so SGD
            # itself must not add it a second time.
            group['weight_decay'] = 0.
            if group.get('lars_exclude', False):
                continue
            for p in group['params']:
                if p.grad is None:
                    continue
                p_norm, g_norm = p.norm(), p.grad.norm()
                if p_norm == 0 or g_norm == 0:
                    continue
                ratio = group['eta'] * p_norm / (
                    g_norm + decay * p_norm + self.eps)
                if group['clip']:
                    ratio = (ratio / group['lr']).clamp(max=1.)
                p.grad.add_(p, alpha=decay).mul_(ratio)
        try:
            super().step()
        finally:
            for group, decay in zip(self.param_groups, decays):
                group['weight_decay'] = decay
        return loss
