"""CutMix of relabel, drawn from an explicit generator.

The released relabel (VILA-Lab/SRe2L, ``SRe2L/relabel/utils_fkd.py``,
``cutmix`` and ``rand_bbox``) mixes every batch of crops before the teacher
labels them; here the same draws are a function of ``(seed, epoch)``, so
relabel can store them and the student side replay them.
"""
import numpy as np

from .presets import CUTMIX_ALPHA, CUTMIX_BATCH_SIZE


def cutmix_box(rng, height, width, lam):
    """The released ``rand_bbox``: a box of side ``sqrt(1 - lam)`` of the
    image's, centred on a uniform pixel, clipped to the image.

    Returns ``(x0, y0, x1, y1)``, end exclusive (possibly empty).
    """
    cut = np.sqrt(1. - lam)
    cut_h, cut_w = int(height * cut), int(width * cut)
    cy, cx = int(rng.integers(height)), int(rng.integers(width))
    y0, y1 = np.clip([cy - cut_h // 2, cy + cut_h // 2], 0, height)
    x0, x1 = np.clip([cx - cut_w // 2, cx + cut_w // 2], 0, width)
    return int(x0), int(y0), int(x1), int(y1)


def draw_cutmix(seed, epoch, num_images, crop_size, alpha=CUTMIX_ALPHA,
                batch_size=CUTMIX_BATCH_SIZE):
    """CutMix of one epoch, as the released relabel applies it per batch.

    The images are shuffled and cut into batches of ``batch_size``; each
    batch draws one permutation, one ``lam ~ Beta(alpha, alpha)`` and one
    box (:func:`cutmix_box`), and every image of the batch receives, inside
    the box, the crop of the image the permutation assigns it. Every batch
    is mixed (the released ``--mix-type cutmix``).

    Returns:
        tuple: int64 ``order [N]`` (the batches are its consecutive runs),
        ``partners [N]`` and ``boxes [N, 4]`` ``(x0, y0, x1, y1)`` in crop
        pixels.
    """
    rng = np.random.default_rng([seed, epoch, 1])
    order = rng.permutation(num_images)
    partners = np.arange(num_images)
    boxes = np.zeros((num_images, 4), np.int64)
    for start in range(0, num_images, batch_size):
        batch = order[start:start + batch_size]
        perm = rng.permutation(len(batch))
        lam = rng.beta(alpha, alpha)
        partners[batch] = batch[perm]
        boxes[batch] = cutmix_box(rng, crop_size, crop_size, lam)
    return order, partners, boxes
