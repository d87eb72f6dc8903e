"""export_vit.py --target-config: a pretraining checkpoint becomes the exact
initialisation of a downstream config's backbone, or nothing is written.

Each export builds the config's ``model.backbone`` (init_cfg removed),
resamples ``pos_embed`` to its grid, requires every key with its shape, and
reloads the file through ``init_cfg=dict(type='Pretrained',
prefix='backbone.')`` to compare every tensor. ViT-B configs are exercised
through child configs that keep everything but narrow the ViT to 32
channels (tests/downstream/helpers.py).
"""
import pytest
import torch
from mmpretrain.models.utils import resize_pos_embed

import mmeff  # noqa: F401
from mmeff.apis.export import (
    ExportError,
    build_backbone,
    roundtrip_check,
    target_backbone_cfg,
)
from tests.downstream.helpers import (
    DET,
    FT_TINY,
    NARROW_VIT,
    PROBE,
    QUICKSTART_VIT,
    SEG,
    export_vit,
    mae_vit,
    narrow_variant,
    pretraining_checkpoint,
)


@pytest.fixture(scope='module')
def narrow_mae(tmp_path_factory):
    """An MAE-style checkpoint: narrow ViT, 224 px, 16 px patches."""
    path = tmp_path_factory.mktemp('pre') / 'mae_narrow.pth'
    return pretraining_checkpoint(path, mae_vit(NARROW_VIT, 224, 16))


def loaded_state(path):
    return torch.load(path, map_location='cpu', weights_only=True)[
        'state_dict']


def exported(config, ckpt, out, capsys):
    assert export_vit(ckpt, out, '--target-config', config) == 0, \
        capsys.readouterr().err
    return capsys.readouterr().out, loaded_state(out)


@pytest.mark.parametrize('task,grid', [('det', 64), ('seg', 32)])
def test_vit_b_configs_get_every_key_and_a_resampled_pos_embed(
        task, grid, narrow_mae, tmp_path, capsys):
    config = narrow_variant(tmp_path, DET if task == 'det' else SEG, task)
    out = tmp_path / f'{task}.pth'
    log, state = exported(config, narrow_mae, out, capsys)
    assert '148/148 keys matched (100.0%)' in log
    # The pretraining encoder's final norm is not used (final_norm=False).
    assert 'unused 2 (ln1.weight, ln1.bias)' in log
    assert f'pos_embed resampled 14x14 -> {grid}x{grid} (bicubic)' in log
    assert 'round trip through init_cfg Pretrained: 148 tensors identical' \
        in log
    source = loaded_state(narrow_mae)
    expected = resize_pos_embed(source['backbone.pos_embed'], (14, 14),
                                (grid, grid), 'bicubic', 1)
    assert state['backbone.pos_embed'].shape == (1, 1 + grid * grid, 32)
    torch.testing.assert_close(state['backbone.pos_embed'], expected,
                               rtol=0, atol=0)
    for key in ('backbone.cls_token', 'backbone.layers.11.ffn.layers.1.weight'):
        assert torch.equal(state[key], source[key])


def test_finetune_config_gets_a_new_fc_norm_as_in_mae(tmp_path, capsys):
    """MAE's fine-tuning (global pool) adds a fresh norm: ``ln2``."""
    ckpt = pretraining_checkpoint(tmp_path / 'pre.pth',
                                  mae_vit(QUICKSTART_VIT, 32, 4))
    log, state = exported(FT_TINY, ckpt, tmp_path / 'ft.pth', capsys)
    assert '100.0%' in log and 'unused 2 (ln1.weight, ln1.bias)' in log
    assert 'new by design' in log and 'ln2.weight, ln2.bias' in log
    assert 'pos_embed resampled' not in log  # same 8x8 grid
    assert torch.equal(state['backbone.ln2.weight'], torch.ones(128))
    assert torch.equal(state['backbone.ln2.bias'], torch.zeros(128))


def test_linear_probe_config_takes_an_empssl_resnet(tmp_path, capsys):
    from mmpretrain.models import ResNet_CIFAR
    ckpt = pretraining_checkpoint(tmp_path / 'empssl.pth',
                                  ResNet_CIFAR(depth=18))
    log, state = exported(PROBE, ckpt, tmp_path / 'probe.pth', capsys)
    assert '100.0%' in log and 'tensors identical' in log
    source = loaded_state(ckpt)
    assert state.keys() == {k for k in source if k.startswith('backbone.')}


def test_partial_checkpoint_is_refused_and_nothing_is_written(
        narrow_mae, tmp_path, capsys):
    state = loaded_state(narrow_mae)
    del state['backbone.layers.3.attn.proj.weight']
    partial = tmp_path / 'partial.pth'
    torch.save({'state_dict': state}, partial)
    out = tmp_path / 'never.pth'
    assert export_vit(partial, out, '--target-config',
                      narrow_variant(tmp_path, SEG, 'seg')) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('export_vit: error: ')
    assert 'missing 1' in err[0] and 'Refusing' in err[0]
    assert not out.exists()


def test_other_patch_size_is_a_shape_mismatch(tmp_path, capsys):
    ckpt = pretraining_checkpoint(tmp_path / 'p4.pth',
                                  mae_vit(NARROW_VIT, 32, 4))
    out = tmp_path / 'never.pth'
    assert export_vit(ckpt, out, '--target-config',
                      narrow_variant(tmp_path, DET, 'det')) == 2
    err = capsys.readouterr().err
    assert 'shape mismatch 1' in err and 'patch_embed.projection.weight' \
        in err
    assert not out.exists()


@pytest.mark.parametrize('case', ['missing', 'no_backbone'])
def test_bad_target_config_is_one_line(case, narrow_mae, tmp_path, capsys):
    config = tmp_path / 'cfg.py'
    if case == 'no_backbone':
        config.write_text('model = dict(type="ImageClassifier")\n')
    out = tmp_path / 'never.pth'
    assert export_vit(narrow_mae, out, '--target-config', config) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('export_vit: error: ')
    assert ('not found' if case == 'missing' else 'no model.backbone') \
        in err[0]


def test_roundtrip_check_catches_a_key_the_file_lacks(narrow_mae, tmp_path,
                                                      capsys):
    config = narrow_variant(tmp_path, SEG, 'seg')
    out = tmp_path / 'seg.pth'
    exported(config, narrow_mae, out, capsys)
    backbone_cfg = target_backbone_cfg(config)
    assert roundtrip_check(backbone_cfg, out) == 148
    state = loaded_state(out)
    del state['backbone.layers.0.ln1.weight']
    torch.save({'state_dict': state}, out)
    with pytest.raises(ExportError, match='changed 1 tensors.*layers.0.ln1'):
        roundtrip_check(backbone_cfg, out)


def test_non_mmpretrain_backbone_type_is_refused():
    with pytest.raises(ExportError, match='not an MMPretrain model'):
        build_backbone(dict(type='mmdet.ResNet', depth=18))


def test_existing_output_is_kept_when_the_export_fails_or_is_refused(
        narrow_mae, tmp_path, capsys):
    """Refused without --overwrite; with it, a failed export (a shape
    mismatch) still leaves the old bytes, a good one replaces them."""
    out = tmp_path / 'vit.pth'
    out.write_bytes(b'old bytes')
    seg = narrow_variant(tmp_path, SEG, 'seg')
    assert export_vit(narrow_mae, out, '--target-config', seg) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f'{out} already exists' in err[0]
    p4 = pretraining_checkpoint(tmp_path / 'p4.pth',
                                mae_vit(NARROW_VIT, 32, 4))
    assert export_vit(p4, out, '--target-config', seg, '--overwrite') == 2
    assert out.read_bytes() == b'old bytes'
    assert not [p for p in tmp_path.iterdir() if p.name.endswith('.tmp')]
    assert export_vit(narrow_mae, out, '--target-config', seg,
                      '--overwrite') == 0
    state = loaded_state(out)
    assert state and all(k.startswith('backbone.') for k in state)
