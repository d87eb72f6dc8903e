"""Crop streams: the public cut of a JPEG down to the intervals of a box.

Specification:

* ``crop_stream`` returns a JPEG that an independent decoder
  (``torchvision.io.decode_jpeg`` on the CPU) decodes, at ``CropStream.box``,
  to mmeff's own crop decode of the box within the border tolerance (mean
  absolute difference < 0.05 of 255, 99.9% of values within 4, none above
  16), and that is smaller than the source for a crop smaller than it;
* a box needing every interval gives the source back unchanged;
* a box outside the image, a JPEG without restart markers or with intervals
  that do not tile its rows, damaged markers, non-JPEG data: one-line
  ``ValueError`` / ``TypeError`` naming what is wrong.
"""
import cv2
import numpy as np
import pytest

from mmeff.data.essl import CropStream, _lib, crop_stream
from mmeff.data.essl.field import encode_image, row_restart_interval

pytestmark = pytest.mark.filterwarnings(
    "ignore:The image decoding:DeprecationWarning")
torch = pytest.importorskip('torch')
torchvision = pytest.importorskip('torchvision')


@pytest.fixture(scope='module')
def photo():
    import skimage.data
    return cv2.resize(skimage.data.astronaut(), (500, 375),
                      interpolation=cv2.INTER_AREA)


def tv_decode(data):
    buf = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    return torchvision.io.decode_jpeg(buf).permute(1, 2, 0).numpy()


def random_boxes(height, width, n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        h, w = int(rng.integers(8, height + 1)), int(rng.integers(8, width + 1))
        yield (int(rng.integers(0, height - h + 1)),
               int(rng.integers(0, width - w + 1)), h, w)


@pytest.mark.parametrize('interval', [1, 4])
def test_torchvision_decodes_the_stream_to_mmeffs_crop_decode(photo,
                                                              interval):
    height, width = photo.shape[:2]
    data = encode_image(photo, 'jpg', 90, row_restart_interval(width,
                                                               interval))
    scratch = np.empty(height * width * 3, np.uint8)
    diffs, smaller = [], 0
    for box in random_boxes(height, width, 24, seed=interval):
        stream = crop_stream(data, box)
        assert isinstance(stream, CropStream)
        top, left, h, w = stream.box
        oy, ox = stream.offset
        assert (top + oy, left + ox, h, w) == box
        decoded = tv_decode(stream.data)
        assert top + h <= decoded.shape[0] and left + w <= decoded.shape[1]
        ours = np.zeros((h, w, 3), np.uint8)
        assert _lib.decode_crop(data, 0, height, width, box, scratch, ours, 1,
                                dct_scaling=False) == _lib.OK
        diff = np.abs(decoded[top:top + h, left:left + w].astype(int) - ours)
        diffs.append(diff.ravel())
        assert diff.mean() < 0.05, box
        assert diff.max() <= 16, box
        smaller += len(stream.data) < data.size
    assert np.quantile(np.concatenate(diffs), 0.999) <= 4
    assert smaller >= 20  # all but boxes spanning nearly every interval


def test_a_box_needing_every_interval_gives_the_source(photo):
    height, width = photo.shape[:2]
    data = encode_image(photo, 'jpg', 90, 4)
    stream = crop_stream(data.tobytes(), (0, 0, height, width))
    assert stream.data == data.tobytes()
    assert stream.box == (0, 0, height, width) and stream.offset == (0, 0)


@pytest.mark.parametrize('box', [(0, 0, 376, 10), (-1, 0, 8, 8),
                                 (370, 490, 8, 8), (0, 0, 0, 5)])
def test_a_box_outside_the_image_is_one_line(photo, box):
    data = encode_image(photo, 'jpg', 90, 4)
    with pytest.raises(ValueError, match=r'box .* is not inside the 500x375 '
                       r'\(width x height\) image') as err:
        crop_stream(data, box)
    assert '\n' not in str(err.value)


def test_a_jpeg_without_restart_markers_is_one_line(photo):
    data = encode_image(photo, 'jpg', 90)
    with pytest.raises(ValueError, match='has no restart markers; store it '
                       r'with them \(write_essl') as err:
        crop_stream(data, (10, 10, 50, 50))
    assert '\n' not in str(err.value)


def test_intervals_that_do_not_tile_the_rows_are_one_line(photo):
    # 500 px at 16-px MCUs: 32 per row, which 5 does not divide.
    ok, data = cv2.imencode('.jpg', photo, [cv2.IMWRITE_JPEG_RST_INTERVAL, 5])
    with pytest.raises(ValueError, match='interval of 5 MCUs neither divides '
                       'nor is a multiple of the 32 MCUs of a row'):
        crop_stream(data.reshape(-1), (10, 10, 50, 50))


def test_damaged_markers_and_other_data_are_one_line(photo):
    data = encode_image(photo, 'jpg', 90, 4)
    raw = data.tobytes()
    marks = [i for i in range(raw.index(b'\xff\xda'), len(raw) - 1)
             if raw[i] == 0xFF and 0xD0 <= raw[i + 1] <= 0xD7]
    bad = data.copy()
    bad[marks[3] + 1] ^= 0x01
    with pytest.raises(ValueError, match='restart markers of source are '
                       'damaged'):
        crop_stream(bad, (200, 300, 50, 50))
    with pytest.raises(ValueError, match='not a baseline sequential JPEG'):
        crop_stream(b'\x89PNG\r\n\x1a\n' + bytes(100), (0, 0, 8, 8))
    with pytest.raises(TypeError, match='source must be JPEG bytes'):
        crop_stream('photo.jpg', (0, 0, 8, 8))
    with pytest.raises(ValueError, match=r'box must be \(top, left, height, '
                       r'width\) in whole pixels'):
        crop_stream(data, (0, 0, 8.5, 8))
