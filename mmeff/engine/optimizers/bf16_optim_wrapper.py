"""Mixed precision in bfloat16, without a loss scaler."""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """:class:`~mmengine.optim.OptimWrapper` with bfloat16 autocast.

    bfloat16 has float32's exponent range, so gradients do not underflow and
    need no loss scaling. MMEngine's ``AmpOptimWrapper`` keeps a
    ``GradScaler`` even with ``dtype='bfloat16'``, and the scaler's check
    for infinite gradients synchronises host and device every step. This
    wrapper only adds ``torch.autocast(dtype=torch.bfloat16)`` around the
    forward pass on the device the model's parameters live on; the backward
    pass and the optimizer step are plain float32 (master weights as usual).
    Args: as :class:`~mmengine.optim.OptimWrapper`.
    """

    @contextmanager
    def optim_context(self, model):
        device = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(
                device_type=device, dtype=torch.bfloat16):
            yield
