"""Variable resolution: one MAE/EMAE model at 160, 192 and 224."""
import pytest
import torch
from mmpretrain.models import MAEViT
from mmpretrain.models.utils import build_2d_sincos_position_embedding

import mmeff  # noqa: F401
from tests.models.emae_cfgs import ARCH, build, emae_cfg


def mae_cfg(img_size=224, patch_size=16):
    cfg = emae_cfg(img_size=img_size, patch_size=patch_size)
    cfg['type'] = 'MAE'
    cfg['backbone'] = dict(type='VarResMAEViT', arch=dict(ARCH),
                           img_size=img_size, patch_size=patch_size,
                           mask_ratio=0.75)
    return cfg


@pytest.mark.parametrize('size', [160, 192, 224])
@pytest.mark.parametrize('algorithm', ['MAE', 'EMAE'])
def test_token_counts_follow_the_input_grid(size, algorithm):
    cfg = mae_cfg() if algorithm == 'MAE' else emae_cfg(224, 16)
    model = build(cfg)
    num_patches = (size // 16)**2
    inputs = torch.randn(2, 3, size, size)
    latent, mask, ids_restore = model.backbone(inputs)
    parts = 4 if algorithm == 'EMAE' else 1
    assert latent.shape == (2 * parts, 1 + num_patches // 4, 32)
    assert mask.shape == ids_restore.shape == (2 * parts, num_patches)
    pred = model.neck(latent, ids_restore)
    assert pred.shape == (2 * parts, num_patches, 16 * 16 * 3)
    assert model.extract_feat(inputs)[0].shape == (2, 1 + num_patches, 32)
    losses = model.loss(inputs, None)
    assert all(torch.isfinite(v) for v in losses.values())


def test_native_grid_matches_upstream_mae_vit():
    ours = build(mae_cfg(64, 16))
    upstream = MAEViT(arch=dict(ARCH), img_size=64, patch_size=16)
    upstream.load_state_dict(ours.backbone.state_dict())
    x = torch.randn(2, 3, 64, 64)
    torch.manual_seed(0)
    a = ours.backbone(x)
    torch.manual_seed(0)
    b = upstream(x)
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v)
    torch.testing.assert_close(ours.backbone(x, mask=False)[0],
                               upstream(x, mask=None)[0])


def test_other_grids_use_the_exact_sincos_table():
    model = build(mae_cfg(224, 16))
    expected = build_2d_sincos_position_embedding((10, 10), 32, cls_token=True)
    torch.testing.assert_close(model.backbone.grid_pos_embed((10, 10)), expected)
    decoder = model.neck.pos_embed_for(100)
    torch.testing.assert_close(
        decoder, build_2d_sincos_position_embedding((10, 10), 16, cls_token=True))


def test_input_not_multiple_of_patch_size_is_refused():
    model = build(mae_cfg(224, 16))
    with pytest.raises(ValueError, match='not a multiple of patch_size=16'):
        model.backbone(torch.randn(1, 3, 200, 200))


@pytest.mark.parametrize('ratio', [1.5, 1.0, 0, -0.25, 0.999, '0.75'])
def test_mask_ratio_without_visible_or_masked_patches_is_refused(ratio):
    """16 patches at 64 px: 0.999 keeps int(16 * 0.001) = 0 visible."""
    from mmeff.engine.config import ConfigError
    cfg = mae_cfg(64, 16)
    cfg['backbone']['mask_ratio'] = ratio
    with pytest.raises(ConfigError, match=f'mask_ratio={ratio!r}'
                       if isinstance(ratio, str) else f'mask_ratio={ratio}'):
        build(cfg)


@pytest.mark.parametrize('ratio,visible', [(0.01, 15), (0.9, 1)])
def test_mask_ratio_leaving_one_patch_on_each_side_builds(ratio, visible):
    cfg = mae_cfg(64, 16)
    cfg['backbone']['mask_ratio'] = ratio
    latent, mask, _ = build(cfg).backbone(torch.randn(1, 3, 64, 64))
    assert latent.shape[1] == 1 + visible
    assert mask.sum() == 16 - visible
