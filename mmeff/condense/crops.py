"""Random-resized-crop boxes drawn from an explicit generator.

Recover jitters each step with a random-resized crop, and relabel must store
the exact crops a student will see so its dataset can replay them. Both draw
boxes here, from a ``numpy.random.Generator`` they own, so a crop is a
function of ``(seed, epoch, image)`` and not of global random state.
"""
import math

import numpy as np

# torchvision's / MMPretrain's RandomResizedCrop defaults, which SRe2L uses
# for both recover (scale (0.08, 1)) and relabel.
DEFAULT_SCALE = (0.08, 1.0)
DEFAULT_RATIO = (3. / 4., 4. / 3.)


def sample_crop_boxes(rng, heights, widths, scale=DEFAULT_SCALE,
                      ratio=DEFAULT_RATIO, attempts=10):
    """One random-resized-crop box per image.

    Follows the usual rejection scheme: up to ``attempts`` draws of an area
    fraction in ``scale`` and a log-uniform aspect ratio in ``ratio``; if
    none fits, the largest central crop with a ratio inside ``ratio``.

    Args:
        rng (numpy.random.Generator): the only source of randomness.
        heights, widths (array-like of int): size of each source image.

    Returns:
        numpy.ndarray: int64 ``[N, 4]`` boxes ``(x0, y0, x1, y1)``, end
        exclusive, in source-image pixels.
    """
    heights = np.asarray(heights, np.int64).reshape(-1)
    widths = np.asarray(widths, np.int64).reshape(-1)
    boxes = np.zeros((len(heights), 4), np.int64)
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for i, (h, w) in enumerate(zip(heights, widths)):
        area = float(h * w)
        for _ in range(attempts):
            target = area * rng.uniform(scale[0], scale[1])
            aspect = math.exp(rng.uniform(*log_ratio))
            cw = int(round(math.sqrt(target * aspect)))
            ch = int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                y0 = int(rng.integers(0, h - ch + 1))
                x0 = int(rng.integers(0, w - cw + 1))
                boxes[i] = (x0, y0, x0 + cw, y0 + ch)
                break
        else:
            in_ratio = w / h
            if in_ratio < ratio[0]:
                cw, ch = w, int(round(w / ratio[0]))
            elif in_ratio > ratio[1]:
                ch, cw = h, int(round(h * ratio[1]))
            else:
                cw, ch = w, h
            x0, y0 = (w - cw) // 2, (h - ch) // 2
            boxes[i] = (x0, y0, x0 + cw, y0 + ch)
    return boxes


def sample_flips(rng, n, prob=0.5):
    """Horizontal-flip decisions, bool ``[n]``."""
    return rng.random(n) < prob
