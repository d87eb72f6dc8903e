"""MultiPatch: n fixed-scale augmented patches per image, through PackInputs
and SelfSupDataPreprocessor to the n patch batches EMPSSL consumes."""
import mmcv
import numpy as np
import pytest
from mmengine.dataset import default_collate
from mmpretrain.registry import MODELS, TRANSFORMS

import mmeff  # noqa: F401
from mmeff.data.transforms import MultiPatch
from mmeff.data.transforms.color_jitter import adjust_hue

NO_AUG = dict(flip_prob=0., jitter_prob=0., gray_prob=0., blur_prob=0.,
              solarize_prob=0.)


def image(seed=0, size=32):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3),
                                                dtype=np.uint8)


def test_views_have_count_size_and_dtype():
    out = TRANSFORMS.build(dict(type='MultiPatch', num_patches=7,
                                patch_size=24))(dict(img=image()))
    assert len(out['img']) == 7
    assert all(p.shape == (24, 24, 3) and p.dtype == np.uint8
               for p in out['img'])


def test_patch_is_an_unresized_crop_of_a_quarter_of_the_area():
    """scale=0.25 of 32x32 is 16x16; at patch_size 16 the patch is the crop."""
    img = image(1)
    out = MultiPatch(num_patches=6, patch_size=16, **NO_AUG)(dict(img=img))
    windows = np.lib.stride_tricks.sliding_window_view(img, (16, 16, 3))[:, :, 0]
    for patch in out['img']:
        hits = (windows == patch).all(axis=(2, 3, 4))
        assert hits.sum() == 1, 'every patch is exactly one 16x16 window'
    offsets = {tuple(np.argwhere((windows == p).all(axis=(2, 3, 4)))[0])
               for p in out['img']}
    assert len(offsets) > 1, 'patch positions are random'


def test_paper_augmentation_defaults():
    t = MultiPatch()
    assert (t.num_patches, t.patch_size, t.scale) == (20, 32, 0.25)
    names = [type(s).__name__ for s in t.pipelines[0].transforms]
    assert names == ['RandomResizedCrop', 'RandomFlip', 'RandomApply',
                     'RandomGrayscale', 'GaussianBlur', 'Solarize']
    crop, flip, jitter, gray, blur, solar = t.pipelines[0].transforms
    assert crop.crop_ratio_range == (0.25, 0.25)
    assert flip.prob == 0.5 and jitter.prob == 0.8 and gray.prob == 0.2
    inner = jitter.transforms.transforms[0]
    assert (inner.brightness, inner.contrast, inner.saturation, inner.hue) == \
        ((0.6, 1.4), (0.6, 1.4), (0.6, 1.4), (-0.2, 0.2))
    assert blur.prob == 0.1 and blur.magnitude_range == (0.1, 2.0)
    assert solar.prob == 0.1 and solar.thr == 128


def test_packed_batch_becomes_n_patch_batches():
    pipeline = [TRANSFORMS.build(dict(type='MultiPatch', num_patches=5,
                                      patch_size=16)),
                TRANSFORMS.build(dict(type='PackInputs'))]
    samples = []
    for seed in range(3):
        results = dict(img=image(seed), gt_label=seed)
        for t in pipeline:
            results = t(results)
        samples.append(results)
    prep = MODELS.build(dict(type='SelfSupDataPreprocessor', mean=[127.5] * 3,
                             std=[127.5] * 3))
    data = prep(default_collate(samples), True)
    assert len(data['inputs']) == 5
    assert all(v.shape == (3, 3, 16, 16) for v in data['inputs'])


def test_hue_jitter_works_for_negative_factors_and_matches_mmcv():
    img = image(2)
    # mmcv's own path for a positive factor is the reference.
    np.testing.assert_array_equal(adjust_hue(img, 0.3),
                                  mmcv.adjust_hue(img, 0.3, backend='cv2'))
    shifted = adjust_hue(img, -0.2)
    assert shifted.shape == img.shape and not np.array_equal(shifted, img)
    jitter = TRANSFORMS.build(dict(type='HueSafeColorJitter', hue=0.5))
    for _ in range(20):  # half the draws are negative
        jitter(dict(img=img.copy()))


@pytest.mark.parametrize('kwargs,field', [
    (dict(num_patches=0), 'num_patches'), (dict(scale=1.5), 'scale'),
    (dict(gray_prob=2.), 'gray_prob'), (dict(channel_order='hsv'), 'channel_order')])
def test_bad_settings_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        MultiPatch(**kwargs)
