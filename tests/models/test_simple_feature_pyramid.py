"""SimpleFeaturePyramid: ViTDet's pyramid from one stride-16 ViT map."""
import pytest
import torch
from mmpretrain.models import VisionTransformer
from mmpretrain.registry import MODELS

import mmeff  # noqa: F401  registers the neck


def tiny_vit(**kwargs):
    return VisionTransformer(
        arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                  feedforward_channels=64),
        img_size=128, patch_size=16, out_type='featmap', out_indices=(1, ),
        final_norm=False, **kwargs)


def test_vit_map_becomes_five_levels_of_strides_4_to_64():
    vit = tiny_vit()
    neck = MODELS.build(dict(type='SimpleFeaturePyramid', in_channels=32,
                             out_channels=16))
    neck.init_weights()
    images = torch.randn(2, 3, 128, 192)  # non-square: both axes checked
    feats = vit(images)
    assert [tuple(f.shape) for f in feats] == [(2, 32, 8, 12)]
    levels = neck(feats)
    assert [tuple(x.shape) for x in levels] == [
        (2, 16, 128 // s, 192 // s) for s in (4, 8, 16, 32, 64)]


def test_every_parameter_gets_a_gradient():
    neck = MODELS.build(dict(type='SimpleFeaturePyramid', in_channels=32,
                             out_channels=16))
    levels = neck((torch.randn(1, 32, 4, 4), ))
    sum(x.square().mean() for x in levels).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in neck.parameters())


def test_levels_beyond_the_scale_factors_subsample_the_last():
    neck = MODELS.build(dict(type='SimpleFeaturePyramid', in_channels=8,
                             out_channels=8, scale_factors=(1.0, 0.5),
                             num_outs=4))
    levels = neck((torch.randn(1, 8, 16, 16), ))
    assert [x.shape[-1] for x in levels] == [16, 8, 4, 2]
    torch.testing.assert_close(levels[2], levels[1][..., ::2, ::2])
    torch.testing.assert_close(levels[3], levels[2][..., ::2, ::2])


def test_convolutions_have_no_bias_and_norms_are_over_channels():
    """1x1 and 3x3 convs are followed by LayerNorm over channels."""
    neck = MODELS.build(dict(type='SimpleFeaturePyramid', in_channels=8,
                             out_channels=4, scale_factors=(1.0, ),
                             num_outs=1))
    conv, norm = neck.output_convs[0]
    assert conv.bias is None and norm.normalized_shape == (4, )
    out = neck((torch.randn(2, 8, 5, 5), ))[0]
    # Per pixel, channel mean 0 and variance 1 (fresh LayerNorm affine).
    torch.testing.assert_close(out.mean(1), torch.zeros(2, 5, 5),
                               atol=1e-5, rtol=0)


def test_wrong_input_is_a_clear_error():
    neck = MODELS.build(dict(type='SimpleFeaturePyramid', in_channels=8))
    with pytest.raises(ValueError, match=r"expects \[B, 8, h, w\].*featmap"):
        neck((torch.randn(2, 5, 8), ))
    with pytest.raises(ValueError, match='scale factor 3'):
        MODELS.build(dict(type='SimpleFeaturePyramid', in_channels=8,
                          scale_factors=(3, )))
