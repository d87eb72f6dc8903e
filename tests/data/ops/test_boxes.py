"""The one RandomResizedCrop box sampler, seen through its three callers
(ESSL crop decoder, ``BatchMultiPatchCrop``, SRe2L's crops), against
MMPretrain's own ``RandomResizedCrop``."""
import functools

import numba
import numpy as np
import pytest
import torch
from mmpretrain.datasets.transforms import RandomResizedCrop
from scipy.stats import ks_2samp

from mmeff.condense.crops import sample_crop_boxes
from mmeff.data.essl.decoders import (
    RandomResizedCropDecoder,
    random_resized_crop_box,
    sample_key,
)
from mmeff.data.essl.transforms import BatchMultiPatchCrop
from mmeff.data.ops.boxes import random_resized_crop_boxes

DRAWS = 20_000
DEFAULT = ((0.08, 1.0), (3 / 4, 4 / 3))
# (H, W), crop_ratio_range, aspect_ratio_range. At 64 x 512 only areas up to
# ~1/8 of the image fit, so more than half the boxes are the fallback.
CASES = [((32, 32), *DEFAULT), ((375, 500), *DEFAULT),
         ((224, 224), (0.25, 0.25), (3 / 4, 4 / 3)),
         ((64, 512), *DEFAULT)]

decoder_box = numba.njit(random_resized_crop_box)  # as the loader runs it


def mmpretrain_boxes(shape, scale, ratio, n, seed=0, max_attempts=10):
    """``[n, 4]`` (top, left, h, w) from MMPretrain's transform."""
    rrc = RandomResizedCrop(8, crop_ratio_range=scale,
                            aspect_ratio_range=ratio,
                            max_attempts=max_attempts)
    img = np.empty(shape, np.uint8)
    np.random.seed(seed)
    return np.array([rrc.rand_crop_params(img) for _ in range(n)])


def decoder_boxes(shape, scale, ratio, n, max_attempts=10):
    args = RandomResizedCropDecoder(8, scale, ratio, max_attempts).box_args()
    return np.array([decoder_box(*shape, *args,
                                 np.uint64(sample_key(1, 0, i)))
                     for i in range(n)])


def multi_patch_boxes(shape, scale, ratio, n, max_attempts=10):
    torch.manual_seed(1)
    x1, y1, x2, y2 = BatchMultiPatchCrop(
        1, 8, scale, ratio, max_attempts).boxes(n, *shape, 'cpu').T
    return torch.stack([y1, x1, y2 - y1, x2 - x1], 1).long().numpy()


def condense_boxes(shape, scale, ratio, n, max_attempts=10):
    x0, y0, x1, y1 = sample_crop_boxes(np.random.default_rng(1),
                                       [shape[0]] * n, [shape[1]] * n,
                                       scale, ratio, max_attempts).T
    return np.stack([y0, x0, y1 - y0, x1 - x0], 1)


CALLERS = dict(decoder=decoder_boxes, multi_patch=multi_patch_boxes,
               condense=condense_boxes)


@functools.lru_cache(maxsize=None)
def reference(shape, scale, ratio):
    return mmpretrain_boxes(shape, scale, ratio, DRAWS)


def area_and_log_ratio(boxes, shape):
    h, w = boxes[:, 2].astype(float), boxes[:, 3].astype(float)
    return h * w / (shape[0] * shape[1]), np.log(w / h)


@pytest.mark.parametrize('caller', sorted(CALLERS))
@pytest.mark.parametrize('shape,scale,ratio', CASES)
def test_boxes_match_mmpretrain_in_distribution(caller, shape, scale, ratio):
    boxes = CALLERS[caller](shape, scale, ratio, DRAWS)
    top, left, h, w = boxes.T
    assert (top >= 0).all() and (left >= 0).all()
    assert (top + h <= shape[0]).all() and (left + w <= shape[1]).all()
    ours = area_and_log_ratio(boxes, shape)
    theirs = area_and_log_ratio(reference(shape, scale, ratio), shape)
    for mine, ref in zip(ours, theirs):
        assert ks_2samp(mine, ref).pvalue > 0.01
    # Offsets are uniform over the room left: the mean sits in the middle.
    room = np.stack([shape[0] - h, shape[1] - w], 1)
    spread = np.where(room > 0, np.stack([top, left], 1) / np.maximum(
        room, 1), 0.5)
    assert abs(spread.mean() - 0.5) < 0.02


@pytest.mark.parametrize('caller', sorted(CALLERS))
@pytest.mark.parametrize('shape,ratio,max_attempts,want', [
    ((10, 1000), (3 / 4, 4 / 3), 10, (0, 493, 10, 13)),  # too wide
    ((1000, 10), (3 / 4, 4 / 3), 10, (493, 0, 13, 10)),  # too tall
    ((100, 120), (1.5, 2.0), 10, (10, 0, 80, 120)),  # ratio above the image's
    ((375, 500), (3 / 4, 4 / 3), 0, (0, 0, 375, 500)),  # no attempts
])
def test_fallback_is_mmpretrain_central_crop(caller, shape, ratio,
                                             max_attempts, want):
    """Where no attempt can fit, every caller gives MMPretrain's box."""
    scale = (1.0, 1.0) if shape == (100, 120) else (0.08, 1.0)
    ref = mmpretrain_boxes(shape, scale, ratio, 3, max_attempts=max_attempts)
    assert (ref == want).all()
    boxes = CALLERS[caller](shape, scale, ratio, 3, max_attempts)
    assert (boxes == want).all()


def test_a_box_is_a_function_of_its_key():
    keys = np.arange(1000, dtype=np.uint64) * np.uint64(7919)
    heights, widths = np.full(1000, 375), np.full(1000, 500)
    a = random_resized_crop_boxes(heights, widths, 0.08, 1.0, 3 / 4, 4 / 3,
                                  10, keys)
    b = random_resized_crop_boxes(heights, widths, 0.08, 1.0, 3 / 4, 4 / 3,
                                  10, keys[::-1].copy())[::-1]
    assert np.array_equal(a, b)
    assert len({tuple(r) for r in a}) > 990
