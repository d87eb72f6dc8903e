# SRe2L squeeze (Yin, Xing, Shen, NeurIPS 2023) on the bundled Fashion-MNIST:
# a BatchNorm teacher trained on the full data (all 60,000 training images),
# as the paper squeezes on the full ImageNet-1K, for recover and relabel.
# Write the data first (class folders of PNGs, about 15 s, 240 MB):
#   python tools/dataset_converters/bundled_data.py \
#       --data-root data/fashion-mnist-full --train-per-class 6000 --no-essl
# (from the wheel: mim run mmeff bundled_data ...)
# Inherits MMPretrain's CIFAR-10 ResNet-18 recipe (3x3 stem, no max-pool,
# RandomCrop 32 pad 4 + flip) and scales it to two CPU cores: 1/4 width
# (16 base channels, 128-d features), batch 32, 3 epochs (5,625 steps, about
# 11 minutes), AdamW lr 2e-3 with cosine decay, which converges in far fewer
# steps than the published SGD lr 0.1 / 200 epochs (full width) that this
# budget cannot afford. Validation: 1,000 held-out images of the test split.
# 28x28 grayscale images are upsampled to 32x32 (bicubic) and replicated to
# three channels by LoadImageFromFile.
_base_ = 'mmpretrain::resnet/resnet18_8xb16_cifar10.py'

custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)

data_root = 'data/fashion-mnist-full'
width = 16
max_epochs = 3
# Fashion-MNIST pixel statistics (0-255), grayscale replicated to RGB.
mean = [72.94, 72.94, 72.94]
std = [90.02, 90.02, 90.02]

data_preprocessor = dict(num_classes=10, mean=mean, std=std, to_rgb=True)
model = dict(
    backbone=dict(base_channels=width, stem_channels=width),
    head=dict(in_channels=8 * width))

upsample = dict(type='Resize', scale=32, backend='pillow',
                interpolation='bicubic')
train_pipeline = [
    dict(type='LoadImageFromFile'), upsample,
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), upsample,
                 dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    collate_fn=dict(type='default_collate'),
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root,
                 data_prefix='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=250, num_workers=1, persistent_workers=True,
    collate_fn=dict(type='default_collate'),
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root,
                 data_prefix='val', pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=2e-3,
                                    weight_decay=0.01))
param_scheduler = dict(_delete_=True, type='CosineAnnealingLR',
                       T_max=max_epochs, by_epoch=True,
                       convert_to_iter_based=True)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs,
                    max_keep_ckpts=1))
custom_hooks = [dict(type='EpochSeedHook')]
randomness = dict(seed=0)
