"""EpochSeedHook: each epoch's random stream depends on (seed, epoch) only."""
import random
from types import SimpleNamespace

import numpy as np
import torch

from mmeff.engine.hooks import EpochSeedHook


def draws(seed, epoch, disturb=False):
    if disturb:  # whatever ran before the epoch must not matter
        torch.rand(7), np.random.rand(3), random.random()
    EpochSeedHook().before_train_epoch(SimpleNamespace(seed=seed, epoch=epoch))
    return torch.rand(3), np.random.rand(3), random.random()


def test_same_seed_and_epoch_give_same_stream_after_other_draws():
    a, b = draws(5, 2), draws(5, 2, disturb=True)
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[2] == b[2]


def test_epochs_and_seeds_differ():
    assert not torch.equal(draws(5, 2)[0], draws(5, 3)[0])
    assert not torch.equal(draws(5, 2)[0], draws(6, 2)[0])
