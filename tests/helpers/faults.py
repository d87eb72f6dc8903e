"""Faults injected into real training runs: a save killed mid-write, NaN."""
import os
import os.path as osp
import signal

import torch
from mmengine.fileio import register_backend
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmeff.engine.outputs import AtomicLocalBackend


@register_backend('kill_mid_write')
class KillMidWriteBackend(AtomicLocalBackend):
    """mmeff's atomic backend, SIGKILLed half-way through writing a file
    whose name contains ``kill_when``: the kill lands with half the bytes
    on disk, as when a machine dies during a save."""

    def __init__(self, kill_when):
        self.kill_when = kill_when

    def _write(self, f, obj):
        if self.kill_when in osp.basename(f.name):
            f.write(obj[:len(obj) // 2])
            f.flush()
            os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        f.write(obj)


@HOOKS.register_module()
class PoisonWeightsHook(Hook):
    """Set one weight to NaN before ``epoch`` (0-based): a diverged run."""

    def __init__(self, epoch):
        self.epoch = epoch

    def before_train_epoch(self, runner):
        if runner.epoch == self.epoch:
            model = getattr(runner.model, 'module', runner.model)
            with torch.no_grad():
                next(model.parameters()).view(-1)[0] = float('nan')
