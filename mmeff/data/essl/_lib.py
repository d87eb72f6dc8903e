"""ctypes binding of the compiled crop decoder, callable from numba code.

numba compiles calls to ctypes functions with declared ``argtypes`` into
direct C calls, which is how FFCV's own pipeline reaches ``libffcv``.
"""
import ctypes
from ctypes import c_int, c_uint64, c_void_p

# What a wheel built with MMEFF_WITHOUT_ESSL=1 (setup.py) lacks.
MISSING_DECODER = (
    'mmeff was installed without its compiled ESSL decoder '
    '(mmeff.data.essl._essl_decode); fix: sudo apt-get install g++ '
    'pkg-config libjpeg62-turbo-dev libopencv-dev && pip install '
    '--no-deps --force-reinstall <mmeff source folder> (in a clone: bash '
    'tools/setup_env.sh)')

try:
    from . import _essl_decode
except ImportError as err:
    raise ImportError(MISSING_DECODER) from err

_lib = ctypes.CDLL(_essl_decode.__file__)

essl_decode_crop = _lib.essl_decode_crop
essl_decode_crop.argtypes = [
    c_void_p, c_uint64, c_int,      # source bytes, size, record mode
    c_int, c_int,                   # image height, width
    c_int, c_int, c_int, c_int,     # crop top, left, height, width
    c_void_p, c_uint64,             # scratch buffer, its size
    c_void_p, c_int, c_int,         # destination, output height, width
    c_int, c_int, c_void_p,         # interpolation, flags, used scale
    c_int,                          # channels first (CHW planes)
]
essl_decode_crop.restype = c_int

essl_splice_crop = _lib.essl_splice_crop
essl_splice_crop.argtypes = [
    c_void_p, c_uint64,             # source JPEG, size
    c_int, c_int, c_int, c_int,     # crop top, left, height, width
    c_void_p, c_uint64,             # output buffer, its size
    c_void_p, c_void_p,             # (top, left) int32[2], written uint64
]
essl_splice_crop.restype = c_int

essl_jpeg_layout = _lib.essl_jpeg_layout
essl_jpeg_layout.argtypes = [c_void_p, c_uint64, c_void_p]
essl_jpeg_layout.restype = c_int

essl_guard_mapping = _lib.essl_guard_mapping
essl_guard_mapping.argtypes = [c_uint64, c_uint64, ctypes.c_char_p]
essl_guard_mapping.restype = c_int
essl_unguard_mapping = _lib.essl_unguard_mapping
essl_unguard_mapping.argtypes = [c_int]
essl_unguard_mapping.restype = None


def guard_mapping(mapping, path):
    """Until ``mapping`` (a numpy memory map of ``path``) is collected, a
    read of it that faults because the file shrank under it ends the process
    with one line naming ``path`` (exit 1) instead of a bare SIGBUS."""
    import weakref
    message = (f'error: {path} was truncated or rewritten in place while '
               'being read (bus error); training stopped. Replace ESSL files '
               'by writing a new file and renaming it, then resume\n')
    base = mapping.ctypes.data
    slot = essl_guard_mapping(base, mapping.nbytes,
                              message.encode(errors='replace')[:1023])
    # Views of the map (record slices) keep it alive, so this runs only
    # once nothing can read the mapped range any more.
    weakref.finalize(mapping, essl_unguard_mapping, slot)
    return slot


# Stage timing inside the decoder (off unless switched on; for benchmarks).
essl_profile = _lib.essl_profile
essl_profile.argtypes = [c_int]
essl_profile.restype = None
essl_profile_read = _lib.essl_profile_read
essl_profile_read.argtypes = [c_void_p]
essl_profile_read.restype = None
# The last two are the bicubic kernel's passes, parts of 'resize'.
PROFILE_STAGES = ('splice', 'decode', 'resize', 'layout',
                  'resize_cubic_vertical', 'resize_cubic_horizontal')

# Status codes returned by essl_decode_crop (and NOT_SPLICED by
# essl_splice_crop).
OK, BAD_ARGS, CORRUPT, NO_ROOM, NOT_SPLICED = 0, -1, -2, -3, 1

# cv2 interpolation codes, under MMPretrain's names.
INTERPOLATION = dict(nearest=0, bilinear=1, bicubic=2, area=3, lanczos=4)

# Bits of the decoder's ``flags`` argument.
DCT_SCALING, MERGED_UPSAMPLING, FAST_IDCT = 1, 2, 4


def decode_flags(dct_scaling=True, jpeg_fancy_upsampling=True,
                 use_fast_idct=False):
    """The decoder's ``flags`` word for these options."""
    return ((DCT_SCALING if dct_scaling else 0)
            | (0 if jpeg_fancy_upsampling else MERGED_UPSAMPLING)
            | (FAST_IDCT if use_fast_idct else 0))


def decode_crop(source, mode, height, width, box, scratch, destination,
                interpolation=1, dct_scaling=True, used_scale=None,
                channels_first=False, jpeg_fancy_upsampling=True,
                use_fast_idct=False):
    """Decode ``box=(top, left, h, w)`` of one record into ``destination``
    (``[H, W, 3]``, or ``[3, H, W]`` with ``channels_first``)."""
    top, left, h, w = box
    oh, ow = (destination.shape[1:] if channels_first
              else destination.shape[:2])
    return essl_decode_crop(
        source.ctypes.data, source.size, mode, height, width, top, left, h, w,
        scratch.ctypes.data, scratch.size, destination.ctypes.data, oh, ow,
        interpolation,
        decode_flags(dct_scaling, jpeg_fancy_upsampling, use_fast_idct),
        0 if used_scale is None else used_scale.ctypes.data,
        int(channels_first))


def jpeg_layout(source):
    """``dict(width, height, mcu_w, mcu_h, mcus_x, interval)`` from the
    headers of the JPEG ``source`` (uint8 array), or None when it is not a
    baseline single-scan JPEG."""
    import numpy as np
    out = np.zeros(6, np.int32)
    if essl_jpeg_layout(source.ctypes.data, source.size, out.ctypes.data):
        return None
    return dict(zip(('width', 'height', 'mcu_w', 'mcu_h', 'mcus_x',
                     'interval'), out.tolist()))


class DecoderProfile:
    """Context manager: time the decoder's stages while the block runs.

    ``stage_ns`` afterwards maps each of :data:`PROFILE_STAGES` to the
    nanoseconds spent in it, summed over threads; ``images`` counts the
    records decoded.
    """

    def __enter__(self):
        essl_profile(1)
        return self

    def __exit__(self, *exc):
        import numpy as np
        words = np.zeros(len(PROFILE_STAGES) + 1, np.uint64)
        essl_profile_read(words.ctypes.data)
        essl_profile(0)
        self.stage_ns = dict(zip(PROFILE_STAGES, words[:-1].tolist()))
        self.images = int(words[-1])


def splice_crop(source, box):
    """``(stream, (top, left))``: the JPEG of only the restart intervals of
    ``source`` covering ``box=(top, left, h, w)``, and where it sits in the
    original; ``(None, status)`` when it cannot be spliced."""
    import numpy as np
    out = np.empty(source.size + 64, np.uint8)
    offsets = np.zeros(2, np.int32)
    written = np.zeros(1, np.uint64)
    status = essl_splice_crop(source.ctypes.data, source.size, *box,
                              out.ctypes.data, out.size, offsets.ctypes.data,
                              written.ctypes.data)
    if status != OK:
        return None, status
    return out[:int(written[0])], tuple(offsets.tolist())
