"""Augmentations applied to a whole decoded batch.

The ESSL loader decodes crops in compiled code and hands over a uint8
``[B, 3, H, W]`` tensor; the augmentations below act on that tensor with
per-image random parameters, vectorised over the batch where the op allows.
Each takes and returns the batch dict ``dict(inputs=..., data_samples=...)``;
``inputs`` may also be a list of such tensors (after
:class:`BatchMultiPatchCrop`), in which case every view is transformed.
Outputs stay uint8 (except :class:`BatchNormalize`), so MMPretrain data
preprocessors normalise as they do on the stock path.

Parameters follow the papers that use them: EMP-SSL (Tong et al., 2023)
patches with SimCLR-style colour augmentation; ThreeAugment from DeiT III
(Touvron et al., ECCV 2022) for DailyMAE fine-tuning; RandAugment (Cubuk et
al., 2020) with a magnitude a hook can raise during training
(EfficientTrain++, Wang et al., 2024).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from mmpretrain.registry import TRANSFORMS

_GRAY = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as PIL's convert('L')


def _map_inputs(batch, fn):
    inputs = batch['inputs']
    if isinstance(inputs, (list, tuple)):
        batch['inputs'] = [fn(x) for x in inputs]
    else:
        batch['inputs'] = fn(inputs)
    return batch


def _coin(n, prob, device):
    return torch.rand(n, device=device) < prob


def _to_uint8(x):
    return x.round_().clamp_(0, 255).to(torch.uint8)


def _gray(x):
    """Luma of float ``[B, 3, H, W]``, as ``[B, 1, H, W]``."""
    w = torch.tensor(_GRAY, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def _gray3(v):
    """uint8 luma of uint8 images, replicated to 3 channels."""
    return _to_uint8(_gray(v.float())).expand(-1, 3, -1, -1)


def _blend(a, b, factor):
    """``b + factor * (a - b)`` with a per-image ``factor``."""
    return b + factor.view(-1, 1, 1, 1) * (a - b)


def _apply_to(x, mask, fn):
    """Apply ``fn`` to the images selected by ``mask`` (in place on x)."""
    if mask.any():
        x[mask] = fn(x[mask])
    return x


def build_batch_transforms(cfgs):
    return [t if callable(t) else TRANSFORMS.build(t) for t in (cfgs or [])]


@TRANSFORMS.register_module()
class BatchRandomFlip:
    """Horizontal flip of each image with probability ``prob``."""

    def __init__(self, prob=0.5):
        self.prob = prob

    def _flip(self, x):
        return _apply_to(x.clone(), _coin(len(x), self.prob, x.device),
                         lambda v: v.flip(-1))

    def __call__(self, batch):
        return _map_inputs(batch, self._flip)


@TRANSFORMS.register_module()
class BatchNormalize:
    """``(x - mean) / std`` per channel; returns float32 inputs.

    Use it only with a data preprocessor that does not normalise again.
    """

    def __init__(self, mean, std):
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    def __call__(self, batch):
        return _map_inputs(
            batch, lambda x: (x.float() - self.mean.to(x.device)) /
            self.std.to(x.device))


def _color_jitter(x, brightness, contrast, saturation, hue):
    """SimCLR colour jitter on float images, factors drawn per image.

    The four adjustments run in one random order per batch (torchvision
    draws it per image). Hue rotates the chroma plane of YIQ, a linear
    stand-in for the HSV hue shift that keeps the op batched.
    """
    n, dev = len(x), x.device

    def factor(s):
        return torch.empty(n, device=dev).uniform_(max(0, 1 - s), 1 + s)

    for op in torch.randperm(4).tolist():
        if op == 0 and brightness > 0:
            x = (x * factor(brightness).view(-1, 1, 1, 1))
        elif op == 1 and contrast > 0:
            mean = _gray(x).mean(dim=(1, 2, 3), keepdim=True)
            x = _blend(x, mean, factor(contrast))
        elif op == 2 and saturation > 0:
            x = _blend(x, _gray(x), factor(saturation))
        elif op == 3 and hue > 0:
            theta = torch.empty(n, device=dev).uniform_(-hue, hue)
            theta = theta * 2 * math.pi
            to_yiq = torch.tensor([[0.299, 0.587, 0.114],
                                   [0.596, -0.274, -0.322],
                                   [0.211, -0.523, 0.312]], device=dev)
            cos, sin = theta.cos(), theta.sin()
            rot = torch.zeros(n, 3, 3, device=dev)
            rot[:, 0, 0] = 1
            rot[:, 1, 1], rot[:, 1, 2] = cos, -sin
            rot[:, 2, 1], rot[:, 2, 2] = sin, cos
            m = torch.linalg.inv(to_yiq) @ rot @ to_yiq
            x = torch.einsum('bij,bjhw->bihw', m, x)
        x = x.clamp(0, 255)
    return x


@TRANSFORMS.register_module()
class BatchColorJitter:
    """Colour jitter applied to each image with probability ``prob``."""

    def __init__(self, brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1,
                 prob=0.8):
        if not 0 <= hue <= 0.5:
            raise ValueError(f'hue must be in [0, 0.5], got {hue}')
        self.args = (brightness, contrast, saturation, hue)
        self.prob = prob

    def _jitter(self, x):
        mask = _coin(len(x), self.prob, x.device)
        out = x.clone()
        if mask.any():
            out[mask] = _to_uint8(_color_jitter(x[mask].float(), *self.args))
        return out

    def __call__(self, batch):
        return _map_inputs(batch, self._jitter)


@TRANSFORMS.register_module()
class BatchGrayscale:
    """Replace each image by its luma (3 channels), probability ``prob``."""

    def __init__(self, prob=0.2):
        self.prob = prob

    def __call__(self, batch):
        return _map_inputs(batch, lambda x: _apply_to(
            x.clone(), _coin(len(x), self.prob, x.device),
            _gray3))


def _gaussian_blur(x, sigmas, kernel_size):
    """Blur float ``[B, C, H, W]`` with a per-image sigma (reflect padding)."""
    n, c, h, w = x.shape
    half = kernel_size // 2
    t = torch.arange(-half, half + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(t.view(1, -1) ** 2) / (2 * sigmas.view(-1, 1) ** 2))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # [n*c, K]
    y = x.reshape(1, n * c, h, w)
    y = F.pad(y, (half, half, 0, 0), mode='reflect')
    y = F.conv2d(y, k.view(n * c, 1, 1, -1), groups=n * c)
    y = F.pad(y, (0, 0, half, half), mode='reflect')
    y = F.conv2d(y, k.view(n * c, 1, -1, 1), groups=n * c)
    return y.view(n, c, h, w)


@TRANSFORMS.register_module()
class BatchGaussianBlur:
    """Gaussian blur with sigma ~ U(sigma_min, sigma_max), prob ``prob``.

    ``kernel_size=None`` uses SimCLR's 10% of the image side (odd).
    """

    def __init__(self, sigma_min=0.1, sigma_max=2.0, prob=0.5,
                 kernel_size=None):
        self.sigma = (sigma_min, sigma_max)
        self.prob = prob
        self.kernel_size = kernel_size

    def blur(self, v):
        ks = self.kernel_size or int(0.1 * min(v.shape[-2:])) // 2 * 2 + 1
        ks = min(ks, (min(v.shape[-2:]) - 1) // 2 * 2 + 1)
        if ks < 3:
            return v
        sig = torch.empty(len(v), device=v.device).uniform_(*self.sigma)
        return _to_uint8(_gaussian_blur(v.float(), sig, ks))

    def __call__(self, batch):
        return _map_inputs(batch, lambda x: _apply_to(
            x.clone(), _coin(len(x), self.prob, x.device), self.blur))


@TRANSFORMS.register_module()
class BatchSolarize:
    """Invert pixels >= ``threshold`` with probability ``prob``."""

    def __init__(self, threshold=128, prob=0.2):
        self.threshold = threshold
        self.prob = prob

    def solarize(self, v):
        return torch.where(v >= self.threshold, 255 - v, v)

    def __call__(self, batch):
        return _map_inputs(batch, lambda x: _apply_to(
            x.clone(), _coin(len(x), self.prob, x.device), self.solarize))


@TRANSFORMS.register_module()
class BatchThreeAugment:
    """DeiT III's ThreeAugment: per image one of grayscale, solarize or blur,
    then colour jitter of strength ``color_jitter`` (0 disables)."""

    def __init__(self, color_jitter=0.3):
        self.blur = BatchGaussianBlur(0.1, 2.0, prob=1.0)
        self.solarize = BatchSolarize(128, prob=1.0)
        self.color_jitter = color_jitter

    def _apply(self, x):
        x = x.clone()
        choice = torch.randint(0, 3, (len(x),), device=x.device)
        _apply_to(x, choice == 0, _gray3)
        _apply_to(x, choice == 1, self.solarize.solarize)
        _apply_to(x, choice == 2, self.blur.blur)
        if self.color_jitter:
            cj = self.color_jitter
            x = _to_uint8(_color_jitter(x.float(), cj, cj, cj, 0.0))
        return x

    def __call__(self, batch):
        return _map_inputs(batch, self._apply)


@TRANSFORMS.register_module()
class BatchRandAugment:
    """RandAugment per image, with a magnitude that can change in training.

    ``magnitude`` is on timm's 0-10 scale (EfficientTrain++ raises it 0 -> 9);
    ops and their ranges are torchvision's (31 magnitude bins, so timm's m
    maps to bin 3m). Assign ``transform.magnitude`` between epochs.
    """

    def __init__(self, num_ops=2, magnitude=9.0):
        from torchvision.transforms import v2
        if not 0 <= magnitude <= 10:
            raise ValueError(f'magnitude must be in [0, 10], got {magnitude}')
        self.num_ops = num_ops
        self.magnitude = float(magnitude)
        self._v2 = v2

    def _apply(self, x):
        op = self._v2.RandAugment(num_ops=self.num_ops,
                                  magnitude=int(round(self.magnitude * 3)),
                                  num_magnitude_bins=31)
        return torch.stack([op(img) for img in x])

    def __call__(self, batch):
        return _map_inputs(batch, self._apply)


@TRANSFORMS.register_module()
class BatchMultiPatchCrop:
    """EMP-SSL patches: ``num_patches`` random resized crops of every image.

    Boxes are MMPretrain's RandomResizedCrop boxes
    (:mod:`mmeff.data.ops.boxes`: area fraction in ``crop_ratio_range``,
    log-uniform aspect ratio, rejection with a central fallback), keyed by
    torch's generator; each is resampled bilinearly to ``size`` with
    ``roi_align``. ``inputs`` becomes a list of ``num_patches`` tensors
    ``[B, 3, size, size]``, the multi-view layout MMPretrain's
    ``SelfSupDataPreprocessor`` takes.
    """

    def __init__(self, num_patches, size, crop_ratio_range=(0.25, 0.25),
                 aspect_ratio_range=(3. / 4., 4. / 3.), max_attempts=10):
        self.num_patches = num_patches
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.crop_ratio_range = crop_ratio_range
        self.aspect_ratio_range = aspect_ratio_range
        self.max_attempts = max_attempts

    def boxes(self, n, h, w, device):
        """``[n, 4]`` boxes (x1, y1, x2, y2) inside an ``h x w`` image."""
        from ..ops.boxes import random_resized_crop_boxes  # needs numba
        keys = torch.randint(-2**63, 2**63 - 1, (n,), dtype=torch.int64)
        top, left, bh, bw = torch.from_numpy(random_resized_crop_boxes(
            np.full(n, h, np.int64), np.full(n, w, np.int64),
            *map(float, self.crop_ratio_range),
            *map(float, self.aspect_ratio_range), int(self.max_attempts),
            keys.numpy().view(np.uint64))).float().T
        return torch.stack([left, top, left + bw, top + bh], 1).to(device)

    def __call__(self, batch):
        from torchvision.ops import roi_align
        x = batch['inputs']
        if isinstance(x, (list, tuple)):
            raise ValueError('BatchMultiPatchCrop takes a single view')
        b, _, h, w = x.shape
        xf = x.float()
        patches = []
        for _ in range(self.num_patches):
            boxes = self.boxes(b, h, w, x.device)
            rois = torch.cat([torch.arange(b, device=x.device,
                                           dtype=torch.float32)[:, None],
                              boxes], 1)
            patches.append(_to_uint8(roi_align(
                xf, rois, self.size, spatial_scale=1.0, sampling_ratio=2,
                aligned=True)))
        batch['inputs'] = patches
        return batch
