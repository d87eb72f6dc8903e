"""A hook that kills its own process, to test recovery from a crash."""
import os
import signal

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class KillProcessHook(Hook):
    """SIGKILL the training process after ``iter_in_epoch`` of ``epoch``.

    With ``rank`` given, only that rank of a distributed run is killed.
    """

    def __init__(self, epoch, iter_in_epoch, rank=None, sig='SIGKILL'):
        self.epoch = epoch  # 0-based, as runner.epoch inside the epoch
        self.iter_in_epoch = iter_in_epoch
        self.rank = rank
        self.sig = getattr(signal, sig)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if self.rank is not None and get_rank() != self.rank:
            return
        if runner.epoch == self.epoch and batch_idx == self.iter_in_epoch:
            os.kill(os.getpid(), self.sig)
