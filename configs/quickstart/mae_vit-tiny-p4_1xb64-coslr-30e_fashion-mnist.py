# Quickstart: MAE (He et al., CVPR 2022) with a tiny ViT on the bundled
# Fashion-MNIST subset (tools/quickstart.py prepares data/fashion-mnist-mini).
# Inherits the published MAE ViT-B/16 800-epoch recipe and scales it down:
# 32x32 inputs, 4x4 patches (64 tokens), mask ratio 0.75 as published,
# norm-pix L2 loss as published, AdamW betas (0.9, 0.95) as published.
_base_ = 'mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'

custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)

data_root = 'data/fashion-mnist-mini'
img_size = 32
patch_size = 4
num_classes = 10
# Fashion-MNIST pixel statistics (0-255), grayscale replicated to RGB.
mean = [72.94, 72.94, 72.94]
std = [90.02, 90.02, 90.02]

model = dict(
    data_preprocessor=dict(mean=mean, std=std, to_rgb=True),
    backbone=dict(
        _delete_=True, type='VarResMAEViT',
        arch=dict(embed_dims=128, num_layers=6, num_heads=4,
                  feedforward_channels=512),
        img_size=img_size, patch_size=patch_size, mask_ratio=0.75),
    neck=dict(type='VarResMAEPretrainDecoder',
              num_patches=(img_size // patch_size)**2, patch_size=patch_size,
              embed_dim=128, decoder_embed_dim=96, decoder_depth=2,
              decoder_num_heads=4),
    head=dict(patch_size=patch_size))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.35, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
# Inheriting an mmpretrain:: config stamps `_scope_` into its collate_fn,
# which MMEngine 0.10.7's Runner passes on to default_collate (a TypeError
# under MMPretrain's tools/train.py); a replaced dict carries no `_scope_`.
train_dataloader = dict(
    batch_size=64, num_workers=2, persistent_workers=True,
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root,
                 data_prefix='train', pipeline=train_pipeline))

# Frozen-feature probes (kNN, linear) read these two loaders; they are not
# part of MMEngine's train/val/test loops.
probe_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_size, backend='pillow',
         interpolation='bicubic'),
    dict(type='PackInputs'),
]
probe_loader = dict(batch_size=256, num_workers=0,
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    collate_fn=dict(type='default_collate'))
probe_dataloaders = dict(
    train=dict(**probe_loader,
               dataset=dict(type='CustomDataset', data_root=data_root,
                            data_prefix='train', pipeline=probe_pipeline)),
    val=dict(**probe_loader,
             dataset=dict(type='CustomDataset', data_root=data_root,
                          data_prefix='val', pipeline=probe_pipeline)))

max_epochs = 30
warmup_epochs = 3
# AmpOptimWrapper stays as published; mmeff's tools train it in fp32 on CPU.
# One param group per distinct setting (not per parameter) and the fused
# AdamW kernel: the same update with a fraction of the per-step overhead.
optim_wrapper = dict(
    constructor='MergedGroupsOptimWrapperConstructor',
    optimizer=dict(lr=1.5e-4 * 64 / 256 * 8, betas=(0.9, 0.95),
                   weight_decay=0.05, fused=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
# Losses become Python floats at the logger's interval, not every step.
default_hooks = dict(
    runtime_info=dict(type='BufferedRuntimeInfoHook'),
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1))
custom_hooks = [dict(type='EpochSeedHook')]
randomness = dict(seed=0, diff_rank_seed=True)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
resume = False
auto_scale_lr = dict(base_batch_size=64)
