# A tiny BatchNorm teacher for the condensation tests: a CIFAR ResNet-18 at
# width 4 on 16x16 inputs (the squeeze configs use the same model type).
custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)
default_scope = 'mmpretrain'
data_root = None  # set with --cfg-options
norm_cfg = dict(type='BN')

model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(num_classes=10, mean=[72.94] * 3,
                           std=[90.02] * 3, to_rgb=True),
    backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=4,
                  stem_channels=4, norm_cfg=norm_cfg),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=32,
              loss=dict(type='CrossEntropyLoss')))

train_dataloader = dict(
    batch_size=8, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root=data_root,
                 data_prefix='train', pipeline=[
                     dict(type='LoadImageFromFile'),
                     dict(type='RandomResizedCrop', scale=16),
                     dict(type='RandomFlip', prob=0.5),
                     dict(type='PackInputs')]))
