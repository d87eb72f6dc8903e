"""MMPretrain's RandomResizedCrop box, compiled and driven by a counter RNG.

One sampler serves every random-resized crop in mmeff: the ESSL crop decoder
(inside its compiled batch loop), :class:`BatchMultiPatchCrop` among the
ESSL batch transforms, and SRe2L's recover / relabel crops
(:mod:`mmeff.condense.crops`). It is MMPretrain 1.2's
``RandomResizedCrop.rand_crop_params`` step for step: up to
``max_attempts`` draws of an area fraction ~ U(scale) and a log aspect ratio
~ U(log ratio), the first box with ``0 < w <= W`` and ``0 < h <= H`` kept at
a uniform integer offset; if none fits, a central crop of the whole image
with its aspect ratio clamped to ``ratio``.

Randomness is a SplitMix64 state ``key`` (64 bits) per box, so a box is a
pure function of its key: the decoder derives keys from
``(seed, epoch, sample index)``, other callers draw them from their own
generator. The functions are numba ``njit`` dispatchers, callable from
Python and from nopython code; numba comes with the ``[numba]`` (or
``[ffcv]``) extra, and without it importing this module says so in one line.
"""
import numpy as np

from mmeff.errors import import_extra

numba = import_extra('numba', 'numba', "mmeff's random-resized-crop sampler")

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@numba.njit(nogil=True, cache=False)
def splitmix64(state):
    """One step of SplitMix64: ``(next_state, 64 random bits)``."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return state, z ^ (z >> np.uint64(31))


@numba.njit(nogil=True, cache=False)
def _uniform(state, lo, hi):
    state, bits = splitmix64(state)
    unit = np.float64(bits >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return state, lo + (hi - lo) * unit


@numba.njit(nogil=True, cache=False)
def _randint(state, n):
    """Integer in ``[0, n)``."""
    state, bits = splitmix64(state)
    return state, np.int64(bits % np.uint64(n))


@numba.njit(nogil=True, cache=False)
def random_resized_crop_box(height, width, scale_lo, scale_hi, ratio_lo,
                            ratio_hi, max_attempts, key):
    """One box ``(top, left, h, w)`` of an ``height x width`` image.

    Args:
        height, width (int): source image size.
        scale_lo, scale_hi (float): range of the crop's area fraction
            (MMPretrain's ``crop_ratio_range``).
        ratio_lo, ratio_hi (float): range of the crop's w / h
            (``aspect_ratio_range``).
        max_attempts (int): draws before the central fallback.
        key (numpy.uint64): generator state; equal keys give equal boxes.
    """
    area = np.float64(height) * np.float64(width)
    log_lo, log_hi = np.log(ratio_lo), np.log(ratio_hi)
    state = np.uint64(key)
    for _ in range(max_attempts):
        state, fraction = _uniform(state, scale_lo, scale_hi)
        state, log_ratio = _uniform(state, log_lo, log_hi)
        target_area = fraction * area
        aspect = np.exp(log_ratio)
        w = int(round(np.sqrt(target_area * aspect)))
        h = int(round(np.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            state, top = _randint(state, height - h + 1)
            state, left = _randint(state, width - w + 1)
            return top, left, h, w
    in_ratio = np.float64(width) / np.float64(height)
    if in_ratio < ratio_lo:
        w = int(width)
        h = int(round(w / ratio_lo))
    elif in_ratio > ratio_hi:
        h = int(height)
        w = int(round(h * ratio_hi))
    else:
        w = int(width)
        h = int(height)
    return np.int64((height - h) // 2), np.int64((width - w) // 2), h, w


@numba.njit(nogil=True, cache=False)
def random_resized_crop_boxes(heights, widths, scale_lo, scale_hi, ratio_lo,
                              ratio_hi, max_attempts, keys):
    """:func:`random_resized_crop_box` for each image: int64 ``[N, 4]``
    rows ``(top, left, h, w)``, box ``i`` from ``keys[i]``."""
    out = np.empty((len(keys), 4), np.int64)
    for i in range(len(keys)):
        top, left, h, w = random_resized_crop_box(
            heights[i], widths[i], scale_lo, scale_hi, ratio_lo, ratio_hi,
            max_attempts, keys[i])
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = top, left, h, w
    return out
