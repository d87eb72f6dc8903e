"""Batch transforms: shapes, dtypes, probabilities and what each op does."""
import pytest
import torch
from mmpretrain.registry import TRANSFORMS
from mmpretrain.structures import DataSample

import mmeff.data.essl  # noqa: F401  registers the batch transforms


def _batch(n=16, h=24, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, h, w), dtype=torch.uint8, generator=g)
    return dict(inputs=x, data_samples=[DataSample() for _ in range(n)])


def _build(type, **kw):
    return TRANSFORMS.build(dict(type=type, **kw))


def test_flip_prob_one_and_zero():
    b = _batch()
    x = b['inputs'].clone()
    assert torch.equal(_build('BatchRandomFlip', prob=1.0)(b)['inputs'],
                       x.flip(-1))
    b = _batch()
    assert torch.equal(_build('BatchRandomFlip', prob=0.0)(b)['inputs'], x)


def test_flip_is_per_image():
    torch.manual_seed(0)
    b = _batch(n=64)
    x = b['inputs'].clone()
    y = _build('BatchRandomFlip', prob=0.5)(b)['inputs']
    flipped = [torch.equal(y[i], x[i].flip(-1)) for i in range(64)]
    kept = [torch.equal(y[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 10 < sum(flipped) < 54


def test_normalize():
    b = _batch()
    x = b['inputs'].float()
    y = _build('BatchNormalize', mean=[10, 20, 30], std=[2, 4, 8])(b)['inputs']
    assert y.dtype == torch.float32
    assert torch.allclose(y[:, 1], (x[:, 1] - 20) / 4)


def test_grayscale_and_solarize():
    b = _batch()
    y = _build('BatchGrayscale', prob=1.0)(b)['inputs']
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2])
    b = _batch()
    x = b['inputs'].clone()
    y = _build('BatchSolarize', threshold=128, prob=1.0)(b)['inputs']
    assert torch.equal(y, torch.where(x >= 128, 255 - x, x))


def test_blur_smooths_and_keeps_constant_images():
    torch.manual_seed(0)
    b = _batch(h=48, w=48)
    x = b['inputs'].float()
    y = _build('BatchGaussianBlur', sigma_min=1.5, sigma_max=2.0, prob=1.0,
               kernel_size=9)(b)['inputs'].float()
    assert y.std() < 0.5 * x.std()
    flat = dict(inputs=torch.full((2, 3, 20, 20), 77, dtype=torch.uint8),
                data_samples=[])
    assert (_build('BatchGaussianBlur', prob=1.0, kernel_size=5)(flat)[
        'inputs'] == 77).all()


def test_color_jitter_changes_images_and_keeps_gray_gray():
    torch.manual_seed(0)
    b = _batch()
    x = b['inputs'].clone()
    y = _build('BatchColorJitter', prob=1.0)(b)['inputs']
    assert y.dtype == torch.uint8 and y.shape == x.shape
    assert (y != x).float().mean() > 0.5
    gray = x[:, :1].expand(-1, 3, -1, -1).contiguous()
    out = _build('BatchColorJitter', saturation=0.0, hue=0.5, prob=1.0)(
        dict(inputs=gray, data_samples=[]))['inputs'].int()
    # Hue and saturation leave a gray pixel gray (up to rounding).
    assert (out.max(1).values - out.min(1).values).max() <= 2


def test_three_augment_and_rand_augment():
    torch.manual_seed(0)
    b = _batch()
    y = _build('BatchThreeAugment', color_jitter=0.0)(b)['inputs']
    assert y.shape == (16, 3, 24, 32) and y.dtype == torch.uint8
    ra = _build('BatchRandAugment', num_ops=2, magnitude=0)
    x = _batch()['inputs']
    assert ra(dict(inputs=x.clone(), data_samples=[]))['inputs'].shape == \
        x.shape
    ra.magnitude = 9  # raised during training (EfficientTrain++)
    out = ra(dict(inputs=x.clone(), data_samples=[]))['inputs']
    assert out.dtype == torch.uint8 and not torch.equal(out, x)
    with pytest.raises(ValueError, match='magnitude'):
        _build('BatchRandAugment', magnitude=11)


def test_multi_patch_crop_gives_views_for_selfsup_preprocessor():
    from mmpretrain.models import SelfSupDataPreprocessor
    torch.manual_seed(0)
    b = _build('BatchMultiPatchCrop', num_patches=5, size=16)(
        _batch(n=4, h=64, w=64))
    assert len(b['inputs']) == 5
    assert all(v.shape == (4, 3, 16, 16) and v.dtype == torch.uint8
               for v in b['inputs'])
    b = _build('BatchRandomFlip', prob=0.5)(b)  # later ops map over views
    out = SelfSupDataPreprocessor(mean=[0] * 3, std=[1] * 3)(b)
    assert len(out['inputs']) == 5
    # Patches of a constant image are that constant.
    flat = dict(inputs=torch.full((2, 3, 32, 32), 9, dtype=torch.uint8),
                data_samples=[])
    views = _build('BatchMultiPatchCrop', num_patches=3, size=8)(flat)
    assert all((v == 9).all() for v in views['inputs'])


def test_multi_patch_boxes_follow_the_area_range():
    t = _build('BatchMultiPatchCrop', num_patches=1, size=8,
               crop_ratio_range=(0.25, 0.25))
    boxes = t.boxes(1000, 100, 120, 'cpu')
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    inside = ((boxes[:, 0] >= 0) & (boxes[:, 1] >= 0) & (boxes[:, 2] <= 120)
              & (boxes[:, 3] <= 100))
    assert inside.all()
    assert torch.allclose(area / (100 * 120), torch.full_like(area, 0.25),
                          atol=0.02)
