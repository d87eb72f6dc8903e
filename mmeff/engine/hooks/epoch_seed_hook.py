"""Reseed every epoch so that a resumed run repeats the uninterrupted one."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Reseed Python, NumPy and torch from ``(runner.seed, epoch)``.

    MMEngine checkpoints do not store random-number-generator state, so after
    ``--resume`` the random masks and augmentations differ from those of an
    uninterrupted run, and so do the final weights. Seeding each epoch from
    the run seed and the epoch index makes every epoch's random stream
    independent of what ran before it (validation, a restart), so a resumed
    epoch-based run reproduces the uninterrupted one. ``runner.seed`` already
    differs per rank when ``randomness.diff_rank_seed`` is set.

    Exact reproduction holds for data pipelines that run in the main process
    or in non-persistent workers (MMEngine seeds those per worker); persistent
    workers keep their own generator state across epochs.
    """

    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner):
        seed = (runner.seed * 1_000_003 + runner.epoch) % (2**32)
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
