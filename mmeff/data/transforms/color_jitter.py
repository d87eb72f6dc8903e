"""Colour jitter that also runs on numpy 2."""
import cv2
import mmcv
import numpy as np
from mmpretrain.datasets.transforms import ColorJitter
from mmpretrain.registry import TRANSFORMS


def adjust_hue(img, hue_factor):
    """Rotate the hue of a BGR uint8 image by ``hue_factor`` turns.

    Same operation as ``mmcv.adjust_hue(backend='cv2')`` (HSV_FULL, uint8
    hue wrapping around), whose ``np.uint8(negative)`` raises under numpy 2,
    so half of all hue draws of a symmetric range fail there.
    """
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor must be in [-0.5, 0.5], got {hue_factor}')
    dtype = img.dtype
    hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    shift = int(hue_factor * 255) % 256
    hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + shift) % 256).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL).astype(dtype)


@TRANSFORMS.register_module()
class HueSafeColorJitter(ColorJitter):
    """MMPretrain's ``ColorJitter`` (random order of brightness, contrast,
    saturation, hue; same parameter ranges) with :func:`adjust_hue`.
    Images are BGR, as everywhere in MMPretrain pipelines."""

    def transform(self, results):
        img = results['img']
        order, brightness, contrast, saturation, hue = self._rand_params()
        for index in order:
            if index == 0 and brightness is not None:
                img = mmcv.adjust_brightness(img, brightness,
                                             backend=self.backend)
            elif index == 1 and contrast is not None:
                img = mmcv.adjust_contrast(img, contrast, backend=self.backend)
            elif index == 2 and saturation is not None:
                img = mmcv.adjust_color(img, alpha=saturation,
                                        backend=self.backend)
            elif index == 3 and hue is not None:
                img = adjust_hue(img, hue)
        results['img'] = img
        return results
