"""A hook that kills its own process, to test recovery from a crash."""
import os
import signal

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class KillProcessHook(Hook):
    """SIGKILL the training process after ``iter_in_epoch`` of ``epoch``."""

    def __init__(self, epoch, iter_in_epoch):
        self.epoch = epoch  # 0-based, as runner.epoch inside the epoch
        self.iter_in_epoch = iter_in_epoch

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.epoch == self.epoch and batch_idx == self.iter_in_epoch:
            os.kill(os.getpid(), signal.SIGKILL)
