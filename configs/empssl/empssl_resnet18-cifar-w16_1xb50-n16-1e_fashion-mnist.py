# EMP-SSL on the bundled Fashion-MNIST subset (tools/benchmarks/
# empssl_one_epoch.py prepares data/fashion-mnist-empssl), one epoch on CPU.
# The released recipe (loss, eps 0.2, lambda_inv 200, LARS-wrapped SGD lr 0.3,
# cosine per iteration sized for 2 epochs and read after the first,
# zero_init_residual=False) with data, network and patch count scaled down
# to fit two CPU cores:
#   - 6,000 training images (600 per class) instead of 50,000, and batch 50
#     instead of 100, so that the one epoch still has 120 steps (at batch
#     100 and 4,000 images, 40 steps, the gain over random init was 8.5
#     points; docs/empssl.md);
#   - 28x28 grayscale images upsampled to 32x32 (bicubic), replicated to RGB;
#   - n = 16 patches per image (paper: 20-200), each a 16x16 crop covering
#     25% of the area (paper's scale), kept at 16x16 (paper: resized to 32);
#   - CIFAR ResNet-18 at 1/4 width (16 base channels, 128-d features);
#   - projector 128 -> 1024 -> 1024 -> 256 (paper 512 -> 4096 -> 4096 -> 1024);
#   - bag of features over 32 test patches (paper: 128).
_base_ = './_base_/empssl_resnet18-cifar_lars-coslr.py'

num_patches = 16
data_root = 'data/fashion-mnist-empssl'
width = 16
# Fashion-MNIST pixel statistics (0-255), grayscale replicated to RGB.
mean = [72.94, 72.94, 72.94]
std = [90.02, 90.02, 90.02]

model = dict(
    num_patches=num_patches,
    data_preprocessor=dict(mean=mean, std=std, to_rgb=True),
    backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=width,
                  stem_channels=width),
    neck=dict(in_channels=8 * width, hid_channels=1024, out_channels=256))

upsample = dict(type='Resize', scale=32, backend='pillow',
                interpolation='bicubic')
patch = dict(type='MultiPatch', patch_size=16, scale=0.25,
             aspect_ratio_range=(1., 1.), interpolation='bilinear')
train_pipeline = [dict(type='LoadImageFromFile'), upsample,
                  dict(patch, num_patches=num_patches), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=50, num_workers=1, persistent_workers=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root=data_root,
                 data_prefix='train', pipeline=train_pipeline))

bof_cfg = dict(test_patches=32, stage='pre_feature', protocol='reference')
bof_pipeline = [dict(type='LoadImageFromFile'), upsample,
                dict(patch, num_patches=32), dict(type='PackInputs')]
_bof_loader = dict(batch_size=100, num_workers=2,
                   sampler=dict(type='DefaultSampler', shuffle=False),
                   collate_fn=dict(type='default_collate'))
bof_dataloaders = dict(
    train=dict(**_bof_loader, dataset=dict(type='CustomDataset',
               data_root=data_root, data_prefix='train', pipeline=bof_pipeline)),
    val=dict(**_bof_loader, dataset=dict(type='CustomDataset',
             data_root=data_root, data_prefix='val', pipeline=bof_pipeline)))
# Raw-pixel baseline: the upsampled image itself.
pixel_pipeline = [dict(type='LoadImageFromFile'), upsample,
                  dict(type='PackInputs')]

default_hooks = dict(logger=dict(type='LoggerHook', interval=10))
