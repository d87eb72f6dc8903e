"""Runtime information without a host-device sync every iteration."""
import torch
from mmengine.hooks import LoggerHook, RuntimeInfoHook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class BufferedRuntimeInfoHook(RuntimeInfoHook):
    """:class:`mmengine.hooks.RuntimeInfoHook` that turns losses into floats
    only when someone reads them.

    MMEngine's hook passes every loss tensor to ``MessageHub.update_scalar``,
    which calls ``.item()``: on a GPU the host waits for each step to finish
    before it may queue the next one. This hook keeps the iterations' output
    tensors and hands them to the message hub, in order and with the same
    values, in one transfer when the :class:`~mmengine.hooks.LoggerHook`
    is about to read them (its interval, the end of an epoch) and before
    validation, checkpointing and the end of training (and after the first
    iteration, so the hub's keys keep MMEngine's order). Between those points
    the hub's ``train/<loss>`` history lags by up to one logging interval;
    everything LoggerHook prints and writes is unchanged. Use it through
    ``default_hooks = dict(runtime_info=dict(
    type='BufferedRuntimeInfoHook'))``.
    """

    def before_train(self, runner):
        super().before_train(runner)
        self._pending, self._first = [], True
        loggers = [h for h in runner.hooks if isinstance(h, LoggerHook)]
        self._logger = loggers[0] if loggers else None

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if outputs is not None:
            self._pending.append(
                {key: value.detach() if isinstance(value, torch.Tensor)
                 else value for key, value in outputs.items()})
        logger = self._logger
        # The first flush creates the hub's history buffers in the order
        # MMEngine's hook would (before IterTimerHook's ``train/time``).
        if self._first or logger is None or logger.every_n_inner_iters(
                batch_idx, logger.interval) or logger.end_of_epoch(
                    runner.train_dataloader, batch_idx):
            self.flush(runner)

    def flush(self, runner):
        """Give the message hub every buffered value (one device sync)."""
        self._first = False
        pending, self._pending = getattr(self, '_pending', []), []
        tensors = [value for outputs in pending for value in outputs.values()
                   if isinstance(value, torch.Tensor)]
        if tensors:  # bf16/fp16 -> fp32 is exact, so .item()'s value stays
            values = iter(torch.stack(
                [t.reshape(()).float() for t in tensors]).tolist())
        for outputs in pending:
            for key, value in outputs.items():
                if isinstance(value, torch.Tensor):
                    value = next(values)
                runner.message_hub.update_scalar(f'train/{key}', value)

    def after_train_epoch(self, runner):
        self.flush(runner)

    def before_val(self, runner):
        self.flush(runner)
        super().before_val(runner)

    def before_save_checkpoint(self, runner, checkpoint):
        if getattr(self, '_pending', None):
            self.flush(runner)
            checkpoint['message_hub'] = runner.message_hub.state_dict()

    def after_train(self, runner):
        self.flush(runner)
        super().after_train(runner)
