"""Tiny MAE/EMAE model configs shared by the model tests."""
import copy

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def emae_cfg(img_size=32, patch_size=4, num_parts=4, **model_kwargs):
    num_patches = (img_size // patch_size)**2
    return dict(
        type='EMAE',
        backbone=dict(type='EMAEViT', arch=copy.deepcopy(ARCH),
                      img_size=img_size, patch_size=patch_size,
                      num_parts=num_parts),
        neck=dict(type='VarResMAEPretrainDecoder', num_patches=num_patches,
                  patch_size=patch_size, embed_dim=32, decoder_embed_dim=16,
                  decoder_depth=1, decoder_num_heads=2),
        head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=patch_size,
                  loss=dict(type='PixelReconstructionLoss', criterion='L2')),
        **model_kwargs)


def build(cfg, seed=0):
    import torch
    from mmpretrain.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model
