"""The downstream configs' backbones, as written (ViT-B), take a converted
MAE ViT-B checkpoint completely and give the maps their necks expect.

- Mask R-CNN: one 768-channel map at stride 16 -> SimpleFeaturePyramid ->
  five 256-channel maps at strides 4, 8, 16, 32, 64.
- UperNet: four 768-channel maps at stride 16 -> MultiLevelNeck (x4, x2, x1,
  x0.5). MMSegmentation's neck is imported from mmseg.models, which needs
  full mmcv (and ftfy); without them only the backbone side is checked.
- Fine-tuning: one pooled 768-d vector per image.

Inputs are 64x64 (the ViT resamples its position embeddings), so each
forward pass is cheap while the configs' own dicts (img_size 1024 / 512 /
224) are built.
"""
import pytest
import torch

import mmeff  # noqa: F401
from mmeff.apis.export import build_backbone, target_backbone_cfg, to_target
from tests.downstream.helpers import DET, FT, SEG, mae_vit


@pytest.fixture(scope='module')
def mae_vit_b():
    """The encoder weights of an MAE ViT-B/16 pretraining run at 224 px."""
    torch.manual_seed(0)
    return mae_vit('b', 224, 16).state_dict()


@pytest.fixture(scope='module')
def converted(mae_vit_b):
    """{config: backbone built from the config and loaded strictly}."""
    built = {}
    for config in (DET, SEG, FT):
        backbone = build_backbone(target_backbone_cfg(config))
        state, coverage = to_target(mae_vit_b, backbone)
        assert coverage.complete and not coverage.missing
        assert coverage.matched == coverage.expected, coverage.summary()
        backbone.load_state_dict(
            {k[len('backbone.'):]: v for k, v in state.items()}, strict=True)
        backbone.eval()
        built[config] = backbone
    return built


def test_every_backbone_key_is_converted(converted, mae_vit_b):
    for config, backbone in converted.items():
        for key, value in backbone.state_dict().items():
            if key in mae_vit_b and key != 'pos_embed':
                assert torch.equal(value, mae_vit_b[key]), (config, key)
    grids = {DET: 64, SEG: 32, FT: 14}
    for config, side in grids.items():
        pos = converted[config].pos_embed
        assert pos.shape == (1, 1 + side * side, 768), config


def test_detection_backbone_feeds_a_stride_4_to_64_pyramid(converted):
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    feats = converted[DET](torch.randn(1, 3, 64, 64))
    assert [tuple(f.shape) for f in feats] == [(1, 768, 4, 4)]
    neck_cfg = Config.fromfile(DET).model.neck.to_dict()
    neck_cfg['type'] = neck_cfg['type'].replace('mmpretrain.', '')
    levels = MODELS.build(neck_cfg)(feats)
    assert [tuple(x.shape) for x in levels] == [
        (1, 256, 64 // s, 64 // s) for s in (4, 8, 16, 32, 64)]


def test_segmentation_backbone_gives_four_stride_16_maps(converted):
    feats = converted[SEG](torch.randn(1, 3, 64, 64))
    assert [tuple(f.shape) for f in feats] == [(1, 768, 4, 4)] * 4


def test_segmentation_maps_fit_mmsegs_multilevel_neck(converted):
    pytest.importorskip('mmcv.ops', reason='mmseg.models needs full mmcv')
    pytest.importorskip('mmseg.models', reason='mmseg.models failed to import')
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    feats = converted[SEG](torch.randn(1, 3, 64, 64))
    with DefaultScope.overwrite_default_scope('mmseg'):
        neck = MODELS.build(Config.fromfile(SEG).model.neck)
    outs = neck(feats)
    assert [tuple(x.shape) for x in outs] == [
        (1, 768, 16, 16), (1, 768, 8, 8), (1, 768, 4, 4), (1, 768, 2, 2)]


def test_finetune_backbone_gives_a_pooled_vector(converted):
    (feat, ) = converted[FT](torch.randn(2, 3, 64, 64))
    assert feat.shape == (2, 768)
