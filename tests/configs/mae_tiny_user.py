# A plain MMPretrain user config (no mmpretrain:: inheritance) that adopts
# mmeff with one line: custom_imports. EpochSeedHook exists only in mmeff.
custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)
default_scope = 'mmpretrain'
data_root = None  # set with --cfg-options

model = dict(
    type='MAE',
    data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[127.5] * 3,
                           std=[127.5] * 3, to_rgb=True),
    backbone=dict(type='MAEViT', img_size=16, patch_size=4, mask_ratio=0.75,
                  arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                            feedforward_channels=64)),
    neck=dict(type='MAEPretrainDecoder', num_patches=16, patch_size=4,
              in_chans=3, embed_dim=32, decoder_embed_dim=16, decoder_depth=1,
              decoder_num_heads=2, mlp_ratio=2.),
    head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=4,
              loss=dict(type='PixelReconstructionLoss', criterion='L2')))

train_dataloader = dict(
    batch_size=8, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root=data_root,
                 data_prefix='train', pipeline=[
                     dict(type='LoadImageFromFile'),
                     dict(type='RandomResizedCrop', scale=16,
                          crop_ratio_range=(0.5, 1.0), backend='pillow'),
                     dict(type='RandomFlip', prob=0.5),
                     dict(type='PackInputs')]))

optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95),
                                    weight_decay=0.05))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=4, by_epoch=True,
                        convert_to_iter_based=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=4)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [dict(type='EpochSeedHook')]
env_cfg = dict(cudnn_benchmark=False,
               mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, diff_rank_seed=True)
log_level = 'INFO'
load_from = None
resume = False
