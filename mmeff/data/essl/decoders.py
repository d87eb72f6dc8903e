"""Crop decoders: RandomResizedCrop / CenterCrop fused with decode.

Stock FFCV (``RandomResizedCropRGBImageDecoder``) decodes every JPEG in full
and then crops. These decoders draw the crop box first and decode only the
rows and iMCU columns that cover it (DailyMAE's ESSL "crop decode", Wu et al.,
2024), then resize straight to the output size. Beyond ESSL, when the box is
at least twice the output size they decode at DCT scale 1/2, 1/4 or 1/8
(``dct_scaling=True``), so the work for small curriculum resolutions shrinks
with the output. Raw and PNG records take the same box through a plain
crop-and-resize.

Crop boxes are reproducible: each image's box comes from a counter-based
generator keyed by ``(seed, epoch, sample index)``, which the loader passes
per epoch, so they do not depend on thread scheduling, worker count or rank, and
a resumed run draws the boxes the uninterrupted run would have drawn.

Equivalence (tested): with ``dct_scaling=False`` the output equals a full
decode followed by ``cv2.resize`` of the same box up to libjpeg's chroma
upsampling at the window's left/top edge (mean absolute difference < 0.5 of
255). With DCT scaling the pixels are a DCT-domain reduction followed by a
< 2x resize: they match a full decode + area-interpolated resize of the box
to a mean absolute difference below 4 of 255 at scales 1/2 and 1/4, and
below 8 at 1/8 (which keeps only each 8x8 block's mean).
"""
import types

import numpy as np

from mmeff.errors import import_extra

# First, so that a missing numba names the extra ESSL needs as a whole.
numba = import_extra('numba', 'ffcv', 'The ESSL crop decoder')

from ..ops.boxes import random_resized_crop_box as rrc_box  # noqa: E402
from ..ops.boxes import splitmix64  # noqa: E402
from ._lib import (  # noqa: E402
    INTERPOLATION,
    decode_flags,
    essl_decode_crop,
)


def _pair(size, name):
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    if (isinstance(size, (tuple, list)) and len(size) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                    for s in size)):
        return tuple(size)
    raise ValueError(f'{name} must be a positive int or (h, w) of positive '
                     f'ints (pixels), got {size!r}')


@numba.njit(nogil=True, cache=False)
def sample_key(seed, epoch, index):
    """Generator state for one image of one epoch."""
    _, k = splitmix64(np.uint64(seed))
    _, k = splitmix64(k ^ np.uint64(epoch))
    _, k = splitmix64(k ^ np.uint64(index))
    return k


def random_resized_crop_box(height, width, scale_lo, scale_hi, ratio_lo,
                            ratio_hi, max_attempts, key):
    """MMPretrain's ``RandomResizedCrop`` box ``(top, left, h, w)`` from the
    generator state ``key`` (the shared sampler of
    :mod:`mmeff.data.ops.boxes`), as a plain function that each batch
    kernel compiles afresh."""
    return rrc_box(height, width, scale_lo, scale_hi, ratio_lo, ratio_hi,
                   max_attempts, key)


def center_crop_box(height, width, crop_ratio, unused0, unused1, unused2,
                    unused3, unused_key):
    """Central square of side ``crop_ratio * min(height, width)``."""
    side = max(1, min(height, width, int(round(crop_ratio * min(height,
                                                                width)))))
    return (height - side) // 2, (width - side) // 2, side, side


def _fresh(fn):
    """A new function object with ``fn``'s code.

    numba 0.68 keys compiled code by Python function: two dispatchers of one
    function evict each other's overloads when one is collected (KeyError at
    call or finalisation), so each compiled kernel gets its own copy.
    """
    return types.FunctionType(fn.__code__, fn.__globals__, fn.__name__,
                              fn.__defaults__, fn.__closure__)


class _CropDecoder:
    """Shared part: output size, interpolation and DCT scaling, validated.

    A decoder is a description the loader's compiled batch kernel
    (:func:`batch_kernel`) runs; FFCV's own ``Loader`` does not run it.
    """

    box_fn = None

    def __init__(self, scale, interpolation='bilinear', dct_scaling=True,
                 jpeg_fancy_upsampling=True, use_fast_idct=False):
        self.output_size = _pair(scale, 'scale')
        if interpolation not in INTERPOLATION:
            raise ValueError(f'interpolation must be one of '
                             f'{sorted(INTERPOLATION)}, got {interpolation!r}')
        self.interpolation = interpolation
        self.dct_scaling = bool(dct_scaling)
        for name, value in (('jpeg_fancy_upsampling', jpeg_fancy_upsampling),
                            ('use_fast_idct', use_fast_idct)):
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f'{name} must be True or False, got '
                                 f'{value!r}')
        self.jpeg_fancy_upsampling = bool(jpeg_fancy_upsampling)
        self.use_fast_idct = bool(use_fast_idct)

    def box_args(self):
        raise NotImplementedError


class RandomResizedCropDecoder(_CropDecoder):
    """Decode + RandomResizedCrop, with MMPretrain's parameters.

    Args:
        scale (int | tuple): output size, ``(h, w)`` or a side.
        crop_ratio_range (tuple): range of the crop's area fraction.
        aspect_ratio_range (tuple): range of the crop's w / h.
        max_attempts (int): tries before falling back to a central crop.
        interpolation (str): nearest / bilinear / bicubic / area / lanczos.
        dct_scaling (bool): decode at 1/2-1/8 scale when the box allows.
        jpeg_fancy_upsampling (bool): libjpeg's smooth ("fancy") chroma
            upsampling; False takes its merged upsampling, as DALI's
            option of the same name (docs/essl.md gives speed and pixels).
        use_fast_idct (bool): libjpeg's fast integer IDCT (JDCT_IFAST)
            instead of the accurate one, as DALI's option of the same name.
    """
    box_fn = staticmethod(random_resized_crop_box)

    def __init__(self, scale, crop_ratio_range=(0.08, 1.0),
                 aspect_ratio_range=(3. / 4., 4. / 3.), max_attempts=10,
                 interpolation='bilinear', dct_scaling=True,
                 jpeg_fancy_upsampling=True, use_fast_idct=False):
        super().__init__(scale, interpolation, dct_scaling,
                         jpeg_fancy_upsampling, use_fast_idct)
        lo, hi = crop_ratio_range
        if not 0 < lo <= hi <= 1:
            raise ValueError('crop_ratio_range must satisfy 0 < lo <= hi <= 1,'
                             f' got {crop_ratio_range}')
        rlo, rhi = aspect_ratio_range
        if not 0 < rlo <= rhi:
            raise ValueError('aspect_ratio_range must satisfy 0 < lo <= hi, '
                             f'got {aspect_ratio_range}')
        self.crop_ratio_range = (float(lo), float(hi))
        self.aspect_ratio_range = (float(rlo), float(rhi))
        self.max_attempts = int(max_attempts)

    def box_args(self):
        return (*self.crop_ratio_range, *self.aspect_ratio_range,
                self.max_attempts)


class CenterCropDecoder(_CropDecoder):
    """Decode + central square crop + resize (evaluation).

    ``crop_ratio=224/256`` reproduces MMPretrain's ``ResizeEdge(256)`` then
    ``CenterCrop(224)`` at any output size. The decode options are
    :class:`RandomResizedCropDecoder`'s.
    """
    box_fn = staticmethod(center_crop_box)

    def __init__(self, scale, crop_ratio=224 / 256, interpolation='bilinear',
                 dct_scaling=True, jpeg_fancy_upsampling=True,
                 use_fast_idct=False):
        super().__init__(scale, interpolation, dct_scaling,
                         jpeg_fancy_upsampling, use_fast_idct)
        if not 0 < crop_ratio <= 1:
            raise ValueError(f'crop_ratio must be in (0, 1], got {crop_ratio}')
        self.crop_ratio = float(crop_ratio)

    def box_args(self):
        return (self.crop_ratio, 0.0, 0.0, 0.0, 0)


DECODERS = dict(RandomResizedCrop=RandomResizedCropDecoder,
                CenterCrop=CenterCropDecoder)


def build_decoder(cfg):
    """Build a decoder from ``dict(type='RandomResizedCrop', ...)`` or
    ``dict(type='CenterCrop', ...)``."""
    if isinstance(cfg, _CropDecoder):
        return cfg
    cfg = dict(cfg)
    kind = cfg.pop('type', None)
    if kind not in DECODERS:
        raise ValueError(f'decoder type must be one of {sorted(DECODERS)}, '
                         f'got {kind!r}')
    return DECODERS[kind](**cfg)


_BATCH_KERNELS = {}
#: Status of an image whose decode thread had no scratch row.
NO_SCRATCH = -4


def batch_kernel(decoder):
    """The compiled batch decode of ``decoder``'s box type.

    ``kernel(base, ptrs, sizes, modes, heights, widths, samples, seed, epoch,
    a0, a1, a2, a3, a4, out, scratch, status, interp, flags)`` decodes records
    ``samples`` of the file mapped at address ``base`` into ``out``
    (``[n, 3, H, W]`` uint8), one image per thread of numba's pool, with the
    boxes :class:`_CropDecoder` draws for ``(seed, epoch, sample)``;
    ``status[j]`` receives each image's decoder status. Output size and box
    parameters are arguments, so one compilation serves every resolution.
    ``scratch`` has one row per thread of the parallel region (numba's
    ``get_thread_id`` is below ``get_num_threads``), so its size does not
    grow with the batch; a thread without a row reports :data:`NO_SCRATCH`.
    """
    box_fn = type(decoder).box_fn
    if box_fn not in _BATCH_KERNELS:
        box = numba.njit(nogil=True)(_fresh(box_fn))
        decode = essl_decode_crop

        @numba.njit(parallel=True, nogil=True)
        def kernel(base, ptrs, sizes, modes, heights, widths, samples, seed,
                   epoch, a0, a1, a2, a3, a4, out, scratch, status, interp,
                   flags):
            out_h, out_w = out.shape[2], out.shape[3]
            for j in numba.prange(len(samples)):
                t = numba.get_thread_id()
                if t >= scratch.shape[0]:
                    status[j] = NO_SCRATCH
                    continue
                s = samples[j]
                top, left, h, w = box(heights[s], widths[s], a0, a1, a2, a3,
                                      a4, sample_key(seed, epoch, s))
                status[j] = decode(
                    base + ptrs[s], sizes[s], modes[s], heights[s],
                    widths[s], top, left, h, w, scratch[t].ctypes.data,
                    scratch.shape[1], out[j].ctypes.data, out_h, out_w,
                    interp, flags, 0, 1)

        _BATCH_KERNELS[box_fn] = kernel
    return _BATCH_KERNELS[box_fn]


def kernel_args(decoder):
    """Box parameters and codes (interpolation, decode flags) for
    :func:`batch_kernel`, typed as the compiled kernel takes them."""
    a0, a1, a2, a3, a4 = decoder.box_args()
    flags = decode_flags(decoder.dct_scaling, decoder.jpeg_fancy_upsampling,
                         decoder.use_fast_idct)
    return (np.float64(a0), np.float64(a1), np.float64(a2), np.float64(a3),
            np.int64(a4), np.int32(INTERPOLATION[decoder.interpolation]),
            np.int32(flags))
