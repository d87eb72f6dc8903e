"""Export to MMPretrain and timm: full key coverage, same features."""
import json

import pytest
import timm
import torch
from mmpretrain.models import VisionTransformer

import mmeff  # noqa: F401
from mmeff.apis.export import (
    ExportError,
    backbone_state,
    to_mmpretrain,
    to_timm,
    vit_arch,
)
from tests.helpers.tools import PYTHON, run_tool
from tests.models.emae_cfgs import build, emae_cfg


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    model = build(emae_cfg(), seed=1)
    for p in model.parameters():  # move away from init so the check bites
        p.data.add_(0.01 * torch.randn_like(p))
    path = tmp_path_factory.mktemp('export') / 'emae.pth'
    from mmengine.config import Config
    cfg = Config(dict(model=emae_cfg()))
    torch.save({'state_dict': model.state_dict(),
                'meta': {'cfg': cfg.pretty_text}}, path)
    return model, path


def export(path, out, fmt, *extra):
    return run_tool([PYTHON, 'tools/model_converters/export_vit.py', str(path),
                     str(out), '--format', fmt, *extra])


def test_timm_export_loads_strictly_and_gives_same_features(pretrained, tmp_path):
    model, path = pretrained
    out = tmp_path / 'timm.pth'
    result = export(path, out, 'timm')
    assert result.returncode == 0, result.stderr[-2000:]
    assert '100.0%' in result.stdout
    kwargs = json.loads((tmp_path / 'timm.pth.json').read_text())
    vit = timm.create_model(**kwargs)
    vit.load_state_dict(torch.load(out, weights_only=True), strict=True)
    vit.eval()
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        # tolerance: float32 accumulation-order differences only
        torch.testing.assert_close(vit.forward_features(x),
                                   model.backbone(x, mask=False)[0],
                                   rtol=1e-5, atol=1e-5)


def test_mmpretrain_export_has_every_backbone_key(pretrained, tmp_path):
    model, path = pretrained
    out = tmp_path / 'backbone.pth'
    result = export(path, out, 'mmpretrain')
    assert result.returncode == 0, result.stderr[-2000:]
    state = torch.load(out, weights_only=True)['state_dict']
    vit = VisionTransformer(arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                                      feedforward_channels=64),
                            img_size=32, patch_size=4, out_type='raw')
    stripped = {k[len('backbone.'):]: v for k, v in state.items()}
    missing, unexpected = vit.load_state_dict(stripped, strict=True)
    assert not missing and not unexpected
    x = torch.randn(1, 3, 32, 32)
    vit.eval()
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(vit(x)[0], model.backbone(x, mask=False)[0])


def test_incomplete_backbone_is_refused(pretrained, tmp_path):
    model, _ = pretrained
    backbone = backbone_state({'state_dict': model.state_dict()})
    arch = vit_arch(backbone, num_heads=2)
    del backbone['layers.1.attn.qkv.weight']
    with pytest.raises(ExportError, match='missing 1'):
        to_timm(backbone, arch)
    with pytest.raises(ExportError, match='Refusing'):
        to_mmpretrain(backbone, arch)


def test_converter_cli_refuses_and_writes_nothing(pretrained, tmp_path):
    model, _ = pretrained
    state = {k: v for k, v in model.state_dict().items() if 'layers.0.ln2' not in k}
    path = tmp_path / 'partial.pth'
    torch.save({'state_dict': state}, path)
    out = tmp_path / 'never.pth'
    result = export(path, out, 'timm', '--num-heads', '2')
    assert result.returncode == 2
    assert 'missing 2' in result.stderr and not out.exists()


def test_resnet_checkpoint_is_a_one_line_error(tmp_path):
    from mmengine.config import Config
    from mmpretrain.models import ResNet
    backbone = dict(type='ResNet', depth=18, stem_channels=8, base_channels=8)
    model = ResNet(**{k: v for k, v in backbone.items() if k != 'type'})
    path = tmp_path / 'resnet.pth'
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in model.state_dict().items()},
                'meta': {'cfg': Config(dict(model=dict(
                    backbone=backbone))).pretty_text}}, path)
    for fmt in ('mmpretrain', 'timm'):
        result = export(path, tmp_path / 'out.pth', fmt)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            f'export_vit: error: {path}: not a ViT backbone'), result.stderr
        assert not (tmp_path / 'out.pth').exists()


@pytest.mark.parametrize('fmt,existing', [('mmpretrain', 'vit.pth'),
                                          ('timm', 'vit.pth'),
                                          ('timm', 'vit.pth.json')])
def test_existing_output_is_kept_unless_overwrite(pretrained, tmp_path, fmt,
                                                  existing):
    _, path = pretrained
    out = tmp_path / 'vit.pth'
    (tmp_path / existing).write_bytes(b'old bytes')
    result = export(path, out, fmt)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path / existing) in lines[0]
    assert '--overwrite' in lines[0]
    assert (tmp_path / existing).read_bytes() == b'old bytes'
    assert export(path, out, fmt, '--overwrite').returncode == 0
    assert torch.load(out, weights_only=True)


def test_export_creates_a_missing_output_folder(pretrained, tmp_path):
    _, path = pretrained
    out = tmp_path / 'exports' / 'nested' / 'vit.pth'
    result = export(path, out, 'mmpretrain')
    assert result.returncode == 0, result.stderr
    assert f'wrote {out}' in result.stdout
    assert torch.load(out, weights_only=True)['state_dict']


def test_output_folder_that_cannot_be_made_is_a_one_line_error(pretrained,
                                                               tmp_path):
    _, path = pretrained
    (tmp_path / 'file').write_text('not a folder')
    result = export(path, tmp_path / 'file' / 'vit.pth', 'mmpretrain')
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('export_vit: error: ')
    assert str(tmp_path / 'file') in lines[0]
