"""Stop training at the first non-finite loss, before it is checkpointed."""
import math

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmeff.errors import MMEffError


class NonFiniteLossError(MMEffError, RuntimeError):
    """A training loss became NaN or infinite."""


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` when a logged loss is not finite.

    A NaN loss makes NaN gradients and NaN weights, and MMEngine goes on to
    save them and exit with status 0. This hook checks every loss of the
    iteration (the ``log_vars`` that ``train_step`` returns) after each
    ``interval`` iterations and stops the run, naming the loss, epoch and
    iteration. It runs before :class:`CheckpointHook` (higher priority), so
    the last checkpoint on disk is the last one with finite weights.
    mmeff's tools add it to every training run.

    The values are read with ``.item()``; MMEngine's ``RuntimeInfoHook``
    already reads every loss to the host each iteration, so this adds no
    device synchronisation.

    Args:
        interval (int): check every ``interval`` iterations. Defaults to 1.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, interval: int = 1):
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval={interval!r} must be a positive int')
        self.interval = interval

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if not outputs or not self.every_n_train_iters(runner, self.interval):
            return
        values = {k: v.item() if hasattr(v, 'item') else float(v)
                  for k, v in outputs.items() if 'loss' in k}
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if bad:
            shown = ', '.join(f'{k}={v}' for k, v in bad.items())
            raise NonFiniteLossError(
                f'{shown} at epoch {runner.epoch + 1}, iteration '
                f'{batch_idx + 1} (global {runner.iter + 1}); training '
                'stopped, checkpoints on disk are from before it. Check the '
                'learning rate, mask_ratio and the data')
