"""BackboneLayerDecayOptimWrapperConstructor: lr per layer, weight decay,
errors, and lookup from the MMDetection / MMSegmentation / MMPretrain scopes.

Specification: for a ViT backbone with L blocks, depth 0 is the stem
(patch_embed, cls_token, pos_embed), block i is depth i + 1, anything else
(final norm, neck, heads) is depth L + 1, and
lr = base_lr * rate ** (L + 2 - 1 - depth).
"""
import pytest
import torch.nn as nn
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.models import VisionTransformer

import mmeff  # noqa: F401  registers the constructor
from mmeff.engine.optimizers import BackboneLayerDecayOptimWrapperConstructor

BASE_LR, BASE_WD, RATE, DEPTH = 1e-3, 0.05, 0.7, 3
CONSTRUCTOR = 'BackboneLayerDecayOptimWrapperConstructor'


class TinyDetector(nn.Module):
    """Backbone + neck + head, as a detector or segmentor lays them out."""

    def __init__(self):
        super().__init__()
        self.backbone = VisionTransformer(
            arch=dict(embed_dims=16, num_layers=DEPTH, num_heads=2,
                      feedforward_channels=32),
            img_size=32, patch_size=8, out_type='featmap')
        self.neck = nn.Conv2d(16, 8, 1)
        self.head = nn.Sequential(nn.Linear(8, 4), nn.LayerNorm(4))


def build(model, scope=None, **paramwise):
    cfg = dict(constructor=CONSTRUCTOR,
               optimizer=dict(type='AdamW', lr=BASE_LR, weight_decay=BASE_WD),
               paramwise_cfg=dict(layer_decay_rate=RATE, **paramwise))
    with DefaultScope.overwrite_default_scope(scope):
        return build_optim_wrapper(model, cfg)


def settings(optim_wrapper):
    """{param name: (lr, weight_decay)} read from the param groups."""
    out = {}
    for group in optim_wrapper.optimizer.param_groups:
        for name in group['param_names']:
            out[name] = (group['lr'], group['weight_decay'])
    return out


def expected_depth(name):
    rest = name[len('backbone.'):] if name.startswith('backbone.') else None
    if rest is None:
        return DEPTH + 1  # neck and head: top depth
    if rest.startswith(('patch_embed', 'cls_token', 'pos_embed')):
        return 0
    if rest.startswith('layers.'):
        return int(rest.split('.')[1]) + 1
    return DEPTH + 1  # the backbone's final norm


def test_lr_follows_the_documented_formula():
    model = TinyDetector()
    got = settings(build(model))
    assert set(got) == {n for n, _ in model.named_parameters()}
    num_layers = DEPTH + 2
    for name, (lr, _) in got.items():
        scale = RATE**(num_layers - 1 - expected_depth(name))
        assert lr == pytest.approx(BASE_LR * scale), name
    # The numbers spelled out for three parameters:
    assert got['backbone.pos_embed'][0] == pytest.approx(BASE_LR * RATE**4)
    assert got['backbone.layers.0.attn.qkv.weight'][0] == \
        pytest.approx(BASE_LR * RATE**3)
    assert got['head.0.weight'][0] == pytest.approx(BASE_LR)


def test_no_weight_decay_for_norms_biases_and_embeddings():
    got = settings(build(TinyDetector()))
    for name, (_, wd) in got.items():
        no_decay = (name.endswith(('.bias', 'pos_embed', 'cls_token')) or
                    '.ln' in name or name.startswith('head.1.'))
        assert wd == (0. if no_decay else BASE_WD), name
    assert got['backbone.layers.1.ffn.layers.1.weight'][1] == BASE_WD
    assert got['neck.weight'][1] == BASE_WD


def test_weight_decay_rules_are_configurable():
    got = settings(build(TinyDetector(), flat_decay_mult=1.0,
                         no_decay_names=(),
                         custom_keys={'neck': dict(lr_mult=2.,
                                                   decay_mult=0.)}))
    assert got['backbone.pos_embed'][1] == BASE_WD
    assert got['backbone.layers.0.ln1.weight'][1] == BASE_WD
    assert got['neck.weight'] == (pytest.approx(2 * BASE_LR), 0.)


def test_same_lrs_as_mmpretrain_constructor_on_a_classifier():
    """Same numbers as MMPretrain's LearningRateDecayOptimWrapperConstructor."""
    from mmpretrain.models import ImageClassifier
    model = ImageClassifier(
        backbone=dict(type='VisionTransformer',
                      arch=dict(embed_dims=16, num_layers=DEPTH, num_heads=2,
                                feedforward_channels=32),
                      img_size=32, patch_size=8, out_type='avg_featmap',
                      final_norm=False),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=16))
    ours = settings(build(model))
    theirs = build_optim_wrapper(model, dict(
        constructor='LearningRateDecayOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=BASE_LR, weight_decay=BASE_WD),
        paramwise_cfg=dict(layer_decay_rate=RATE)))
    for group in theirs.optimizer.param_groups:
        assert ours[group['param_name']][0] == pytest.approx(group['lr'])


def test_frozen_parameters_are_left_out():
    model = TinyDetector()
    model.backbone.patch_embed.requires_grad_(False)
    got = settings(build(model))
    assert not any(n.startswith('backbone.patch_embed') for n in got)


def _has_mmcv_ops():
    try:
        import mmcv.ops  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def importable_scope(monkeypatch):
    """Make a toolbox scope usable without compiled mmcv ops.

    On first use MMDetection's registries import ``mmdet.engine``, which
    needs ``mmcv.ops``. Under mmcv-lite the optimizer registries of the
    scope are marked as imported, so the lookup under test (child registry,
    then MMEngine's root) still runs; with full mmcv nothing is patched.
    """

    def prepare(scope):
        if scope == 'mmdet' and not _has_mmcv_ops():
            from mmdet import registry
            for name in ('OPTIM_WRAPPER_CONSTRUCTORS', 'OPTIMIZERS',
                         'OPTIM_WRAPPERS'):
                monkeypatch.setattr(getattr(registry, name), '_imported',
                                    True)
        return scope

    return prepare


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_found_by_plain_name_from_every_toolbox_scope(scope,
                                                      importable_scope):
    got = settings(build(TinyDetector(), scope=importable_scope(scope)))
    assert got['head.0.weight'][0] == pytest.approx(BASE_LR)


def test_built_from_the_mmdet_registry(importable_scope):
    importable_scope('mmdet')
    from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
    model = TinyDetector()
    with DefaultScope.overwrite_default_scope('mmdet'):
        constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
            type=CONSTRUCTOR,
            optim_wrapper_cfg=dict(type='OptimWrapper', optimizer=dict(
                type='AdamW', lr=BASE_LR, weight_decay=BASE_WD)),
            paramwise_cfg=dict(layer_decay_rate=RATE)))
        assert isinstance(constructor,
                          BackboneLayerDecayOptimWrapperConstructor)
        assert settings(constructor(model))[
            'backbone.layers.2.ln2.weight'][0] == pytest.approx(BASE_LR *
                                                               RATE)


def test_backbone_without_layer_depth_is_a_clear_error():

    class ConvNet(nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone = nn.Conv2d(3, 4, 3)

    with pytest.raises(ValueError, match='ConvNet.*Conv2d has none'):
        build(ConvNet())
    with pytest.raises(ValueError, match='Linear has none'):
        build(nn.Linear(2, 2))


def test_unknown_paramwise_key_is_refused():
    with pytest.raises(ValueError, match="unsupported paramwise_cfg keys "
                       r"\['decay_rate'\]"):
        build(TinyDetector(), decay_rate=0.7)
