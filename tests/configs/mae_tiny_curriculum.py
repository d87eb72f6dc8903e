# mae_tiny_user.py with mmeff's variable-resolution MAE, persistent workers,
# RandAugment in the pipeline, and a resolution curriculum (set by tests).
_base_ = './mae_tiny_user.py'
custom_imports = dict(imports=['mmeff', 'tests.helpers.recorder_hook',
                               'tests.helpers.crash_hook'])
model = dict(backbone=dict(type='VarResMAEViT'),
             neck=dict(type='VarResMAEPretrainDecoder'))
train_dataloader = dict(
    num_workers=1, persistent_workers=True,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='RandomResizedCrop', scale=16, crop_ratio_range=(0.5, 1.0),
             backend='pillow'),
        dict(type='RandAugment', policies='timm_increasing', num_policies=2,
             total_level=10, magnitude_level=0, magnitude_std=0.5,
             hparams=dict(pad_val=[104, 116, 124])),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackInputs')]))
train_cfg = dict(max_epochs=6)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=6, by_epoch=True,
                        convert_to_iter_based=True)]
palindrome = dict(type='ProgressiveResolutionHook', by_epoch=True,
                  stages=[dict(begin=0, size=16), dict(begin=2, size=8),
                          dict(begin=4, size=16)])
custom_hooks = [dict(type='EpochSeedHook'), palindrome,
                dict(type='InputSizeRecorderHook')]
