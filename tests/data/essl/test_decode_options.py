"""Decoder options named as DALI's: jpeg_fancy_upsampling, use_fast_idct.

Specification (0-255 scale, against a full decode followed by the same
resize of the box, DCT scaling off, on boxes of 64 px and up of three photos
resized to 160 px -- enlarging magnifies the chroma differences, so these
bounds are looser than the benchmark's figures in docs/essl.md):

* ``jpeg_fancy_upsampling=False`` (libjpeg's merged upsampling) changes
  pixels, by a mean |difference| below 0.8 and a PSNR above 44 dB;
* ``use_fast_idct=True`` (JDCT_IFAST) changes pixels, by a mean below 1.3
  and a PSNR above 43 dB; both together, a mean below 1.6 and a PSNR above
  41 dB;
* the defaults are libjpeg's smooth upsampling and accurate IDCT, and the
  options reach the decoder through the loader's batch kernel;
* a value that is not True or False is a one-line error naming the option.
"""
import cv2
import numpy as np
import pytest

from mmeff.data.essl import _lib
from mmeff.data.essl.decoders import build_decoder
from mmeff.data.essl.field import encode_image, row_restart_interval

H, W = 375, 500
BOUNDS = {  # option set: (mean |diff| below, PSNR above)
    (False, False): (0.8, 44.0),
    (True, True): (1.3, 43.0),
    (False, True): (1.6, 41.0),
}


@pytest.fixture(scope='module')
def jpegs():
    import skimage.data
    out = []
    for name in ('astronaut', 'coffee', 'chelsea'):
        img = cv2.resize(getattr(skimage.data, name)(), (W, H),
                         interpolation=cv2.INTER_AREA)
        out.append(encode_image(img, 'jpg', 90, row_restart_interval(W, 4)))
    return out


def boxes(n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        h, w = int(rng.integers(64, H + 1)), int(rng.integers(64, W + 1))
        yield (int(rng.integers(0, H - h + 1)),
               int(rng.integers(0, W - w + 1)), h, w)


def decode(data, box, out, **options):
    dst = np.zeros(out + (3,), np.uint8)
    scratch = np.empty(H * W * 3, np.uint8)
    assert _lib.decode_crop(data, 0, H, W, box, scratch, dst, 1,
                            dct_scaling=False, **options) == _lib.OK
    return dst


def psnr(a, b):
    mse = ((a.astype(float) - b) ** 2).mean()
    return 10 * np.log10(255 ** 2 / mse)


@pytest.mark.parametrize('fancy,fast', list(BOUNDS))
def test_options_change_pixels_within_the_documented_bounds(jpegs, fancy,
                                                            fast):
    got, ref = [], []
    for data in jpegs:
        full = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR),
                            cv2.COLOR_BGR2RGB)
        for box in boxes(8, seed=len(got)):
            t, x, h, w = box
            ref.append(cv2.resize(full[t:t + h, x:x + w], (160, 160),
                                  interpolation=cv2.INTER_LINEAR))
            got.append(decode(data, box, (160, 160),
                              jpeg_fancy_upsampling=fancy,
                              use_fast_idct=fast))
    got, ref = np.stack(got), np.stack(ref)
    mean_bound, psnr_bound = BOUNDS[(fancy, fast)]
    diff = np.abs(got.astype(int) - ref)
    assert 0.01 < diff.mean() < mean_bound
    assert psnr(got, ref) > psnr_bound


def test_defaults_are_smooth_upsampling_and_the_accurate_idct(jpegs):
    decoder = build_decoder(dict(type='RandomResizedCrop', scale=224))
    assert decoder.jpeg_fancy_upsampling is True
    assert decoder.use_fast_idct is False
    box = (20, 30, 300, 400)
    np.testing.assert_array_equal(
        decode(jpegs[0], box, (224, 224)),
        decode(jpegs[0], box, (224, 224), jpeg_fancy_upsampling=True,
               use_fast_idct=False))


def test_the_loader_decodes_with_the_options(photo_beton):
    from mmeff.data.essl import ESSLLoader
    from mmeff.data.essl.reader import ESSLRecords
    records = ESSLRecords(photo_beton)
    height, width = int(records.images[0]['height']), \
        int(records.images[0]['width'])
    options = dict(jpeg_fancy_upsampling=False, use_fast_idct=True)
    batches = {}
    for name, extra in (('default', {}), ('options', options)):
        loader = ESSLLoader(photo_beton, 4, dict(
            type='CenterCrop', scale=48, crop_ratio=1.0, dct_scaling=False,
            **extra), num_workers=1, shuffle=False)
        batches[name] = next(iter(loader))['inputs'][0].numpy()
    side = min(height, width)
    box = ((height - side) // 2, (width - side) // 2, side, side)
    dst = np.zeros((3, 48, 48), np.uint8)
    scratch = np.empty(height * width * 3, np.uint8)
    assert _lib.decode_crop(records.raw_bytes(0), 0, height, width, box,
                            scratch, dst, 1, dct_scaling=False,
                            channels_first=True, **options) == _lib.OK
    np.testing.assert_array_equal(batches['options'], dst)
    assert not np.array_equal(batches['options'], batches['default'])


@pytest.mark.parametrize('name', ['jpeg_fancy_upsampling', 'use_fast_idct'])
@pytest.mark.parametrize('value', ['yes', 1, None])
def test_a_value_that_is_not_a_bool_is_one_line(name, value):
    with pytest.raises(ValueError, match=f'{name} must be True or False, '
                       f'got {value!r}') as err:
        build_decoder(dict(type='RandomResizedCrop', scale=224,
                           **{name: value}))
    assert '\n' not in str(err.value)
