"""Crop decode equals full decode + crop + resize, within stated tolerances.

Tolerances (0-255 scale), on JPEGs of real photographs:
* no DCT scaling: mean |diff| < 0.5 and 99.9% of values within 4 of
  ``cv2.resize(full_decode[box], interpolation)``. Only libjpeg's chroma
  upsampling at the decoded window's left/top edge can differ.
* DCT scaling (box >= 2x output): mean |diff| < 4 at scale 1/2 and 1/4
  (< 8 at 1/8, which keeps only each 8x8 block's mean) against an
  area-interpolated resize of the fully decoded box (both are
  anti-aliased reductions; bilinear on the full image aliases).
* raw and PNG records: bit-exact.
"""
import cv2
import numba
import numpy as np
import pytest

from mmeff.data.essl import _lib
from mmeff.data.essl.decoders import (
    center_crop_box,
    random_resized_crop_box,
    sample_key,
)
from mmeff.data.essl.field import encode_image

H, W = 375, 500


@pytest.fixture(scope='module')
def photos():
    import skimage.data
    out = []
    for name in ('astronaut', 'coffee', 'rocket'):
        img = cv2.resize(getattr(skimage.data, name)(), (W, H),
                         interpolation=cv2.INTER_AREA)
        out.append(img)
    return out


def _decode(data, mode, box, out, interp='bilinear', dct=True):
    dst = np.zeros(out + (3,), np.uint8)
    scratch = np.empty(H * W * 3, np.uint8)
    used = np.zeros(1, np.int32)
    status = _lib.decode_crop(data, mode, H, W, box, scratch, dst,
                              _lib.INTERPOLATION[interp], dct, used)
    return status, dst, int(used[0])


def _reference(full, box, out, interp):
    t, x0, h, w = box
    return cv2.resize(full[t:t + h, x0:x0 + w], out[::-1], interpolation=interp)


def _boxes(n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        h, w = rng.integers(16, H + 1), rng.integers(16, W + 1)
        top, left = rng.integers(0, H - h + 1), rng.integers(0, W - w + 1)
        yield int(top), int(left), int(h), int(w)


@pytest.mark.parametrize('interp', ['bilinear', 'bicubic', 'area'])
def test_jpeg_crop_decode_matches_full_decode(photos, interp):
    code = _lib.INTERPOLATION[interp]
    for img, seed in zip(photos, range(3)):
        data = encode_image(img, 'jpg', 90)
        full = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR),
                            cv2.COLOR_BGR2RGB)
        for box in _boxes(10, seed):
            out = (int(np.random.default_rng(box).integers(8, 225)),) * 2
            status, got, used = _decode(data, 0, box, out, interp, dct=False)
            assert status == _lib.OK and used == 8
            diff = np.abs(got.astype(int) - _reference(full, box, out, code))
            assert diff.mean() < 0.5, (box, out)
            assert np.quantile(diff, 0.999) <= 4, (box, out)


def test_dct_scaled_decode_is_used_and_close(photos):
    scales = set()
    for img, seed in zip(photos, range(3)):
        data = encode_image(img, 'jpg', 90)
        full = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR),
                            cv2.COLOR_BGR2RGB)
        for out, box in [((112, 112), (10, 20, 300, 400)),
                         ((56, 56), (0, 0, H, W)),
                         ((40, 30), (33, 47, 333, 251)),
                         ((160, 160), (5, 3, 350, 480))]:
            status, got, used = _decode(data, 0, box, out)
            # The smallest n/8 that keeps the box at least the output size.
            expect = next(n for n in (1, 2, 4, 8)
                          if box[2] * n >= 8 * out[0]
                          and box[3] * n >= 8 * out[1])
            assert status == _lib.OK and used == expect
            scales.add(used)
            ref = _reference(full, box, out, cv2.INTER_AREA)
            # 1/8 keeps only each 8x8 block's mean: coarser than area.
            tol = 8 if used == 1 else 4
            assert np.abs(got.astype(int) - ref).mean() < tol, (box, out)
    assert {1, 2, 4} <= scales


@pytest.mark.parametrize('mode', ['raw', 'png'])
def test_raw_and_png_records_are_exact(photos, mode):
    img = photos[1]
    data = (np.ascontiguousarray(img).reshape(-1) if mode == 'raw'
            else encode_image(img, 'png'))
    for box in _boxes(5, 7):
        status, got, _ = _decode(data, 1 if mode == 'raw' else 2, box,
                                 (64, 48))
        assert status == _lib.OK
        np.testing.assert_array_equal(
            got, _reference(img, box, (64, 48), cv2.INTER_LINEAR))


def test_bad_boxes_and_corrupt_data_return_errors(photos):
    data = encode_image(photos[0], 'jpg', 90)
    assert _decode(data, 0, (300, 0, 100, 10), (8, 8))[0] == _lib.BAD_ARGS
    assert _decode(data, 1, (0, 0, 0, 10), (8, 8))[0] == _lib.BAD_ARGS
    junk = np.frombuffer(b'\xff\xd8' + bytes(range(256)) * 4, np.uint8)
    assert _decode(junk, 0, (0, 0, 10, 10), (8, 8))[0] == _lib.CORRUPT
    assert _decode(junk, 2, (0, 0, 10, 10), (8, 8))[0] == _lib.CORRUPT


# Compiled, as the loader runs them (the generator works in uint64).
rrc_box = numba.njit(random_resized_crop_box)


def key_of(seed, epoch, index):
    return np.uint64(sample_key(seed, epoch, index))


def test_random_resized_crop_box_follows_mmpretrain_ranges():
    lo, hi, rlo, rhi = 0.2, 1.0, 3 / 4, 4 / 3
    for index in range(500):
        t, x0, h, w = rrc_box(H, W, lo, hi, rlo, rhi, 10,
                             key_of(0, 0, index))
        assert 0 <= t and t + h <= H and 0 <= x0 and x0 + w <= W
        # Rounding to whole pixels moves area and ratio slightly.
        assert lo * 0.97 <= h * w / (H * W) <= hi * 1.0
        assert rlo * 0.97 <= w / h <= rhi * 1.03
    # A ratio range the image cannot hold falls back to a central crop.
    t, x0, h, w = rrc_box(100, 400, 0.9, 1.0, 0.5, 0.6, 10,
                         key_of(0, 0, 0))
    assert (h, w) == (100, 60) and (t, x0) == (0, 170)


def test_crop_boxes_are_a_function_of_seed_epoch_and_index():
    def box(seed, epoch, index):
        return rrc_box(H, W, 0.08, 1.0, 3 / 4, 4 / 3, 10,
                       key_of(seed, epoch, index))

    assert box(3, 5, 7) == box(3, 5, 7)
    boxes = {box(3, 5, i) for i in range(50)}
    assert len(boxes) > 45  # distinct images get distinct boxes
    assert box(3, 5, 7) != box(3, 6, 7) or box(3, 5, 8) != box(3, 6, 8)
    assert [box(3, 5, i) for i in range(10)] != [box(4, 5, i)
                                                for i in range(10)]


def test_center_crop_box_matches_resize_edge_then_center_crop():
    # ResizeEdge(256) + CenterCrop(224) keeps 224/256 of the short side.
    assert center_crop_box(375, 500, 224 / 256, 0, 0, 0, 0, 0) == (
        23, 86, 328, 328)
    assert center_crop_box(28, 28, 1.0, 0, 0, 0, 0, 0) == (0, 0, 28, 28)


def test_channels_first_output_is_the_same_image(photos):
    data = encode_image(photos[2], 'jpg', 90)
    scratch = np.empty(H * W * 3, np.uint8)
    hwc = np.zeros((40, 56, 3), np.uint8)
    chw = np.zeros((3, 40, 56), np.uint8)
    for dst, first in ((hwc, False), (chw, True)):
        assert _lib.decode_crop(data, 0, H, W, (11, 22, 200, 300), scratch,
                                dst, 1, True, None, first) == _lib.OK
    np.testing.assert_array_equal(chw, hwc.transpose(2, 0, 1))
