"""Crop decode from restart intervals: only the intervals covering a crop.

A JPEG written with a restart marker every n MCUs is entropy-coded in
independent intervals. The decoder splices the intervals that cover a crop
into a JPEG of its own (frame size adjusted, markers renumbered), so work
follows the crop's area. Specification:

* the spliced stream is a valid JPEG of the MCU-aligned block covering the
  crop, and decodes to the full decode's pixels bit-exactly except within
  one MCU of a spliced border (chroma upsampling reads one sample across
  it); for 4:2:0, 4:4:4 and grayscale, intervals of 1, 2, 4 MCUs and a row;
* crop decode through the spliced stream stays within the crop-decode
  tolerance of ``test_decode.py`` everywhere;
* streams whose intervals do not tile the MCU rows, and streams without
  markers, take the ordinary path;
* a damaged marker or interval is an error (status CORRUPT; in the loader
  an error naming the file and the record), never a crash or a wrong image.
"""
import shutil

import cv2
import numpy as np
import pytest

from mmeff.data.essl import _lib
from mmeff.data.essl.field import encode_image, row_restart_interval
from mmeff.data.essl.reader import CorruptRecordError, ESSLRecords

SAMPLINGS = dict(yuv420=(16, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420),
                 yuv444=(8, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444),
                 gray=(8, None))


@pytest.fixture(scope='module')
def photo():
    import skimage.data
    return cv2.resize(skimage.data.astronaut(), (512, 384),
                      interpolation=cv2.INTER_AREA)


def encode(img, sampling, interval):
    """JPEG bytes (quality 90) and the MCU side in pixels."""
    mcu, factor = SAMPLINGS[sampling]
    params = [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_RST_INTERVAL,
              interval]
    if factor is None:
        src = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    else:
        src = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor]
    ok, data = cv2.imencode('.jpg', src, params)
    assert ok
    return data.reshape(-1), mcu


def rgb(data):
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR),
                        cv2.COLOR_BGR2RGB)


def boxes(height, width, n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        h, w = rng.integers(8, height + 1), rng.integers(8, width + 1)
        yield (int(rng.integers(0, height - h + 1)),
               int(rng.integers(0, width - w + 1)), int(h), int(w))


@pytest.mark.parametrize('sampling', list(SAMPLINGS))
@pytest.mark.parametrize('interval', [1, 2, 4, 'row'])
@pytest.mark.parametrize('shape', [(384, 512), (375, 500)])
def test_spliced_stream_decodes_to_the_full_decode(photo, sampling,
                                                   interval, shape):
    height, width = shape
    img = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
    mcu = SAMPLINGS[sampling][0]
    per_row = -(-width // mcu)
    n = per_row if interval == 'row' else interval
    data, _ = encode(img, sampling, n)
    full = rgb(data)
    tiles = per_row % n == 0
    spliced_any = False
    for box in boxes(height, width, 12, seed=n):
        stream, where = _lib.splice_crop(data, box)
        if not tiles:
            assert stream is None and where == _lib.NOT_SPLICED
            continue
        if stream is None:  # the crop needs every interval
            assert where == _lib.NOT_SPLICED
            continue
        spliced_any = True
        top, left = where
        t, bx, h, w = box
        assert top <= t and left <= bx and top % mcu == 0 and left % mcu == 0
        assert stream.size < data.size
        block = rgb(stream)
        bh, bw = block.shape[:2]
        assert top + bh >= t + h and left + bw >= bx + w
        diff = np.abs(block.astype(int) - full[top:top + bh, left:left + bw])
        # Exact once one MCU away from a border that was cut.
        y0 = mcu if top > 0 else 0
        x0 = mcu if left > 0 else 0
        y1 = bh - mcu if top + bh < height else bh
        x1 = bw - mcu if left + bw < width else bw
        assert diff[y0:y1, x0:x1].max(initial=0) == 0, (box, where)
        assert diff.mean() < 0.5
    assert spliced_any or not tiles


def test_writer_interval_tiles_every_row():
    # 500 px at 16-px MCUs: 32 per row; 375 px: 24; 47 MCUs is prime.
    assert row_restart_interval(500, 4) == 4
    assert row_restart_interval(375, 4) == 4
    assert row_restart_interval(47 * 16, 4) == 1
    assert row_restart_interval(40, 4) == 3
    assert row_restart_interval(500, 0) == 0


@pytest.mark.parametrize('interp', ['bilinear', 'bicubic'])
def test_crop_decode_from_intervals_stays_within_tolerance(photo, interp):
    code = _lib.INTERPOLATION[interp]
    height, width = photo.shape[:2]
    data = encode_image(photo, 'jpg', 90, row_restart_interval(width, 4))
    plain = encode_image(photo, 'jpg', 90)
    full = rgb(plain)
    scratch = np.empty(height * width * 3, np.uint8)
    for box in boxes(height, width, 20, seed=7):
        out = (int(np.random.default_rng(box).integers(8, 225)),) * 2
        dst = np.zeros(out + (3,), np.uint8)
        status = _lib.decode_crop(data, 0, height, width, box, scratch, dst,
                                  code, dct_scaling=False)
        assert status == _lib.OK
        t, bx, h, w = box
        ref = cv2.resize(full[t:t + h, bx:bx + w], out[::-1],
                         interpolation=code)
        diff = np.abs(dst.astype(int) - ref)
        assert diff.mean() < 0.5, box
        assert np.quantile(diff, 0.999) <= 4, box


def _markers(data):
    """Offsets of the RST markers in a JPEG's entropy-coded data."""
    raw = data.tobytes()
    start = raw.index(b'\xff\xda')
    return [i for i in range(start, len(raw) - 1)
            if raw[i] == 0xFF and 0xD0 <= raw[i + 1] <= 0xD7]


def _decode_status(data, box, height, width):
    scratch = np.empty(height * width * 3, np.uint8)
    dst = np.zeros((32, 32, 3), np.uint8)
    return _lib.decode_crop(data, 0, height, width, box, scratch, dst, 1)


def test_damaged_markers_and_intervals_are_errors(photo):
    height, width = photo.shape[:2]
    data = encode_image(photo, 'jpg', 90, 4)
    marks = _markers(data)
    box = (200, 300, 100, 100)
    assert _decode_status(data, box, height, width) == _lib.OK
    # A marker out of sequence.
    bad = data.copy()
    bad[marks[5] + 1] ^= 0x01
    assert _decode_status(bad, box, height, width) == _lib.CORRUPT
    # A marker destroyed: intervals no longer where the grid says.
    bad = data.copy()
    bad[marks[5]:marks[5] + 2] = 0x11
    assert _decode_status(bad, box, height, width) == _lib.CORRUPT
    # An interval cut short: the data ends before the crop's intervals.
    assert _decode_status(data[:marks[len(marks) // 2]].copy(), box, height,
                          width) == _lib.CORRUPT
    # Garbage inside the crop's interval: libjpeg's warning is an error.
    row = 200 // 16 * (width // 16 // 4) + 300 // 64
    bad = data.copy()
    bad[marks[row] + 2:marks[row + 1]] = 0xFF
    assert _decode_status(bad, box, height, width) == _lib.CORRUPT


def test_loader_names_the_damaged_record(photo_folder, tmp_path):
    from mmeff.data.essl import ESSLLoader, write_essl
    path = str(tmp_path / 'rst.beton')
    write_essl(photo_folder, path, write_mode='jpg', num_workers=1,
               progress=False, restart_interval=2)
    assert ESSLLoader(path, 4, dict(type='CenterCrop', scale=16)) \
        .dataset.meta['options']['restart_interval'] == 2
    records = ESSLRecords(path)
    ptr = int(records.images[5]['data_ptr'])
    marks = _markers(records.raw_bytes(5))
    damaged = str(tmp_path / 'damaged.beton')
    shutil.copy(path, damaged)
    shutil.copy(path + '.meta.json', damaged + '.meta.json')
    with open(damaged, 'r+b') as f:  # renumber one marker
        f.seek(ptr + marks[1] + 1)
        f.write(b'\xd7')
    loader = ESSLLoader(damaged, 4, dict(type='RandomResizedCrop', scale=16,
                                         crop_ratio_range=(0.05, 0.1)),
                        num_workers=1, shuffle=False, verify=False)
    # Without the checksum (verify=False) the decoder's status names it.
    with pytest.raises(CorruptRecordError, match=r'damaged.beton: record 5 '
                       r'is corrupt \(does not decode\)'):
        for _ in range(20):  # small crops: some epoch needs the interval
            for _ in loader:
                pass
