"""The decoder's bicubic resize: OpenCV's kernel, in mmeff's own passes.

Specification:

* it is OpenCV's bicubic (A = -0.75, pixel-centre mapping, edge
  replication): against ``cv2.resize(..., INTER_CUBIC)`` of the same box of
  a raw record, no value differs by more than 1 and the mean absolute
  difference is below 0.05 (of 255), enlarging and reducing;
* its output is exactly the integer arithmetic it documents (Q14 weights,
  vertical pass first rounded to Q6, then the horizontal pass rounded from
  Q20), whichever vector build of the passes the CPU runs -- i.e. the same
  pixels as the kernel before the passes were built for AVX2;
* the decoder's profile times its two passes, as parts of the resize.
"""
import math

import cv2
import numpy as np
import pytest

from mmeff.data.essl import _lib

H, W = 375, 500
BOXES = [(0, 0, 375, 500), (11, 22, 300, 400), (100, 37, 120, 170),
         (5, 400, 90, 100), (350, 0, 25, 33)]
SIZES = [(224, 224), (112, 112), (160, 96), (300, 260)]


@pytest.fixture(scope='module')
def photo():
    import skimage.data
    return np.ascontiguousarray(cv2.resize(
        skimage.data.coffee(), (W, H), interpolation=cv2.INTER_AREA))


def decode_bicubic(img, box, out):
    dst = np.zeros(out + (3,), np.uint8)
    scratch = np.empty(H * W * 3, np.uint8)
    status = _lib.decode_crop(img.reshape(-1), 1, H, W, box, scratch, dst,
                              _lib.INTERPOLATION['bicubic'])
    assert status == _lib.OK
    return dst


def cubic(x):
    a, x = -0.75, abs(x)
    if x <= 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2:
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return 0.0


def taps(start, length, n):
    """Per output: 4 source indices within the box and Q14 weights."""
    index = np.zeros((n, 4), np.int64)
    weight = np.zeros((n, 4), np.int64)
    for i in range(n):
        centre = (i + 0.5) * length / n - 0.5
        base = math.floor(centre)
        f = centre - base
        q = [int(math.floor(cubic(d) * 16384 + 0.5))
             for d in (1 + f, f, 1 - f, 2 - f)]
        q[1 + (f >= 0.5)] += 16384 - sum(q)
        weight[i] = q
        index[i] = np.clip(np.arange(base - 1, base + 3), 0, length - 1)
    return index + start, weight


def reference(img, box, out):
    top, left, h, w = box
    iy, wy = taps(top, h, out[0])
    ix, wx = taps(left, w, out[1])
    src = img.astype(np.int64)
    rows = (src[iy] * wy[:, :, None, None]).sum(1)  # [out_h, W, 3]
    rows = (rows + 128) >> 8                          # Q6
    cols = (rows[:, ix] * wx[None, :, :, None]).sum(2)
    return np.clip((cols + (1 << 19)) >> 20, 0, 255).astype(np.uint8)


@pytest.mark.parametrize('out', SIZES)
def test_bicubic_is_opencvs_within_one_level(photo, out):
    for box in BOXES:
        t, x, h, w = box
        ref = cv2.resize(photo[t:t + h, x:x + w], out[::-1],
                         interpolation=cv2.INTER_CUBIC)
        diff = np.abs(decode_bicubic(photo, box, out).astype(int) - ref)
        assert diff.max() <= 1, (box, out)
        assert diff.mean() < 0.05, (box, out)


@pytest.mark.parametrize('out', SIZES)
def test_bicubic_is_exactly_its_integer_arithmetic(photo, out):
    for box in BOXES:
        np.testing.assert_array_equal(decode_bicubic(photo, box, out),
                                      reference(photo, box, out))


def test_profile_times_both_bicubic_passes(photo):
    with _lib.DecoderProfile() as bicubic:
        for box in BOXES:
            decode_bicubic(photo, box, (224, 224))
    ns = bicubic.stage_ns
    assert bicubic.images == len(BOXES)
    assert ns['resize_cubic_vertical'] > 0
    assert ns['resize_cubic_horizontal'] > 0
    assert ns['resize_cubic_vertical'] + ns['resize_cubic_horizontal'] <= \
        ns['resize']
    dst = np.zeros((64, 64, 3), np.uint8)
    with _lib.DecoderProfile() as bilinear:
        _lib.decode_crop(photo.reshape(-1), 1, H, W, BOXES[1],
                         np.empty(H * W * 3, np.uint8), dst, 1)
    assert bilinear.stage_ns['resize'] > 0
    assert bilinear.stage_ns['resize_cubic_vertical'] == 0
