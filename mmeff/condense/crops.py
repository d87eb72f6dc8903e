"""Random-resized-crop boxes drawn from an explicit generator.

Recover jitters each step with a random-resized crop, and relabel must store
the exact crops a student will see so its dataset can replay them. Both draw
boxes here, from a ``numpy.random.Generator`` they own, so a crop is a
function of ``(seed, epoch, image)`` and not of global random state.
"""
import numpy as np

# torchvision's / MMPretrain's RandomResizedCrop defaults, which SRe2L uses
# for both recover (scale (0.08, 1)) and relabel.
DEFAULT_SCALE = (0.08, 1.0)
DEFAULT_RATIO = (3. / 4., 4. / 3.)


def sample_crop_boxes(rng, heights, widths, scale=DEFAULT_SCALE,
                      ratio=DEFAULT_RATIO, attempts=10):
    """One random-resized-crop box per image.

    MMPretrain's rejection scheme (:mod:`mmeff.data.ops.boxes`): up to
    ``attempts`` draws of an area fraction in ``scale`` and a log-uniform
    aspect ratio in ``ratio``; if none fits, the largest central crop with a
    ratio inside ``ratio``. ``rng`` gives one 64-bit generator key per image.

    Args:
        rng (numpy.random.Generator): the only source of randomness.
        heights, widths (array-like of int): size of each source image.

    Returns:
        numpy.ndarray: int64 ``[N, 4]`` boxes ``(x0, y0, x1, y1)``, end
        exclusive, in source-image pixels.
    """
    from mmeff.data.ops.boxes import random_resized_crop_boxes  # numba
    heights = np.asarray(heights, np.int64).reshape(-1)
    widths = np.asarray(widths, np.int64).reshape(-1)
    keys = rng.integers(0, 2**64, size=len(heights), dtype=np.uint64)
    top, left, h, w = random_resized_crop_boxes(
        heights, widths, float(scale[0]), float(scale[1]), float(ratio[0]),
        float(ratio[1]), int(attempts), keys).T
    return np.stack([left, top, left + w, top + h], 1)


def sample_flips(rng, n, prob=0.5):
    """Horizontal-flip decisions, bool ``[n]``."""
    return rng.random(n) < prob
