"""The ESSL image field: FFCV's RGB image record with all DailyMAE modes.

FFCV 1.0.2's ``RGBImageField`` stores ``raw`` or ``jpg`` records (``smart``
and ``proportion`` choose between them); DailyMAE's storage options add
lossless ``png``. :class:`ESSLImageField` keeps FFCV's record layout (mode,
width, height, data pointer), adds mode 2 = PNG and a CRC-32 of each record's
stored bytes (what the reader, the loader and ``essl_verify.py`` check), and
registers itself in FFCV's field-type table so a file written with it reads
back with it.
"""
import zlib

import cv2
import numpy as np

from ._ffcv import ARG_TYPE, RGBImageField, register_field

JPEG, RAW, PNG = 0, 1, 2
WRITE_MODES = ('raw', 'jpg', 'png', 'proportion', 'smart')
# FFCV uses type ids 0-6 and 255; 41 is free and stays stable in files
# (40 was the layout without checksums, ESSL format 1).
ESSL_IMAGE_TYPE_ID = 41


def stored_size(height, width, max_resolution):
    """``(h, w)`` an image of that size is stored at: the longer side shrunk
    to at most ``max_resolution`` (None: kept)."""
    if not max_resolution:
        return height, width
    ratio = max_resolution / max(height, width)
    if ratio >= 1:
        return height, width
    return (max(1, int(round(height * ratio))),
            max(1, int(round(width * ratio))))


def limit_resolution(image, max_resolution):
    """Shrink ``image`` so its longer side is at most ``max_resolution``."""
    h, w = image.shape[:2]
    size = stored_size(h, w, max_resolution)
    if size == (h, w):
        return image
    return cv2.resize(image, size[::-1], interpolation=cv2.INTER_AREA)


#: FFCV's record index holds widths and heights as uint16.
MAX_SIDE = 65535


def check_option_ranges(max_resolution, restart_interval):
    """Reject values FFCV would store silently wrong (one line each)."""
    if max_resolution is not None and (
            isinstance(max_resolution, bool) or
            not isinstance(max_resolution, int) or
            not 1 <= max_resolution <= MAX_SIDE):
        raise ValueError(
            f'max_resolution must be an int in [1, {MAX_SIDE}] (pixels of '
            'the longer side), or left out to keep full resolution; got '
            f'{max_resolution!r}')
    if not isinstance(restart_interval, int) or \
            not 0 <= restart_interval <= 65535:
        raise ValueError(
            'restart_interval must be an int in [0, 65535] (MCUs; 0: no '
            f'markers), got {restart_interval!r}')


# cv2's JPEG encoder subsamples chroma 4:2:0: 16x16-pixel MCUs.
_MCU_SIDE = 16


def row_restart_interval(width, restart_interval):
    """The restart interval (MCUs) the writer uses for an image ``width``
    pixels wide: the largest divisor of the MCUs per row that is at most
    ``restart_interval``, so every interval lies within one MCU row (what
    splicing needs); 0 means no restart markers."""
    if not restart_interval:
        return 0
    per_row = -(-width // _MCU_SIDE)
    n = min(int(restart_interval), per_row)
    while per_row % n:
        n -= 1
    return n


def encode_image(image, fmt, jpeg_quality=90, restart_interval=0):
    """Encode an RGB uint8 array as ``'jpg'`` or ``'png'`` bytes; JPEGs get
    a restart marker every ``restart_interval`` MCUs (0: none)."""
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if fmt == 'jpg':
        params = [int(cv2.IMWRITE_JPEG_QUALITY), jpeg_quality]
        if restart_interval:
            params += [int(cv2.IMWRITE_JPEG_RST_INTERVAL),
                       int(restart_interval)]
        ok, data = cv2.imencode('.jpg', bgr, params)
    else:
        ok, data = cv2.imencode('.png', bgr)
    if not ok:
        raise ValueError(f'cannot encode a {image.shape} image as {fmt}')
    return data.reshape(-1)


class ESSLImageField(RGBImageField):
    """RGB image field with write modes raw / jpg / png / proportion / smart.

    Args:
        write_mode (str): ``'raw'`` pixels, ``'jpg'``, lossless ``'png'``,
            ``'proportion'`` (JPEG with probability ``compress_probability``,
            raw otherwise) or ``'smart'`` (JPEG only when the raw pixels take
            more than ``smart_threshold`` bytes, raw otherwise).
        max_resolution (int, optional): longer side is shrunk (area
            interpolation) to at most this before storing.
        jpeg_quality (int): JPEG quality, 1-100.
        compress_probability (float): see ``'proportion'``.
        smart_threshold (int): see ``'smart'``.
        seed (int, optional): seeds the ``'proportion'`` draws per image so
            a file is reproducible however the writer's workers split it.
        restart_interval (int): JPEG restart marker every this many MCUs
            (rounded down to a divisor of the MCUs per row; 0: none). The
            crop decoder then entropy-decodes only the intervals covering a
            crop (``docs/essl.md`` has the cost in bytes and the gain).
    """

    def __init__(self, write_mode='jpg', max_resolution=None, jpeg_quality=90,
                 compress_probability=0.5, smart_threshold=None, seed=0,
                 restart_interval=4):
        if write_mode not in WRITE_MODES:
            raise ValueError(f'write_mode must be one of {WRITE_MODES}, '
                             f'got {write_mode!r}')
        if not 1 <= int(jpeg_quality) <= 100:
            raise ValueError(f'jpeg_quality must be in [1, 100], '
                             f'got {jpeg_quality}')
        if not 0.0 <= compress_probability <= 1.0:
            raise ValueError('compress_probability must be in [0, 1], got '
                             f'{compress_probability}')
        if write_mode == 'smart' and (smart_threshold is None or
                                      smart_threshold < 0):
            raise ValueError("write_mode='smart' needs smart_threshold >= 0 "
                             '(raw bytes above which an image is JPEG-coded)')
        check_option_ranges(max_resolution, restart_interval)
        super().__init__(write_mode=write_mode, max_resolution=max_resolution,
                         smart_threshold=smart_threshold,
                         jpeg_quality=jpeg_quality,
                         compress_probability=compress_probability)
        self.seed = seed
        self.restart_interval = restart_interval

    @property
    def metadata_type(self):
        return np.dtype([('mode', '<u1'), ('width', '<u2'),
                         ('height', '<u2'), ('data_ptr', '<u8'),
                         ('crc32', '<u4')])

    def get_decoder_class(self):
        # FFCV's Loader asks for this; ESSL records (PNG, checksums, crop
        # decode) are read by ESSLLoader only.
        raise TypeError(
            "ESSL files are read with mmeff's ESSLLoader "
            "(dict(type='ESSLLoader', path=..., decoder=...)), not FFCV's "
            'Loader: see docs/essl.md')

    @staticmethod
    def from_binary(binary):
        return ESSLImageField()

    def to_binary(self):
        return np.zeros(1, dtype=ARG_TYPE)[0]

    def choose_mode(self, image, key=0):
        """The record mode (JPEG / RAW / PNG) ``image`` is stored in."""
        mode = self.write_mode
        if mode == 'proportion':
            draw = np.random.default_rng([self.seed, int(key)]).random()
            return JPEG if draw < self.proportion else RAW
        if mode == 'smart':
            return JPEG if image.nbytes > self.smart_threshold else RAW
        return dict(raw=RAW, jpg=JPEG, png=PNG)[mode]

    def encode(self, destination, image, malloc):
        # The writer passes (key, image) so proportion draws are per image.
        key, image = image if isinstance(image, tuple) else (0, image)
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError('ESSLImageField stores HxWx3 uint8 RGB arrays, '
                             f'got {image.dtype} {image.shape}')
        image = limit_resolution(image, self.max_resolution)
        mode = self.choose_mode(image, key)
        if mode == RAW:
            data = np.ascontiguousarray(image).reshape(-1)
        else:
            interval = row_restart_interval(image.shape[1],
                                            self.restart_interval)
            data = encode_image(image, 'jpg' if mode == JPEG else 'png',
                                self.jpeg_quality, interval)
        destination['mode'] = mode
        destination['height'], destination['width'] = image.shape[:2]
        destination['crc32'] = zlib.crc32(data)
        destination['data_ptr'], storage = malloc(data.nbytes)
        storage[:] = data


register_field(ESSL_IMAGE_TYPE_ID, ESSLImageField)
