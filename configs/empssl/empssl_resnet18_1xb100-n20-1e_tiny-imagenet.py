# EMP-SSL, Tiny-ImageNet (200 classes, 64x64), 1 epoch (paper, linear probe:
# 38.1% after 1 epoch, 51.5% after 10). Encoder: ImageNet ResNet-18 (7x7
# stem + max-pool, global average pool), the released "resnet18-tinyimagenet".
# Patches are 64x64 resizes of 32x32 crops (25% of the area), following the
# released CIFAR rule "patch output = input size"; the release ships no
# Tiny-ImageNet loader, so this size is our choice. Layout: ImageNet-style
# class folders, data/tiny-imagenet-200/{train,val}/<class>/...
_base_ = './_base_/empssl_resnet18-cifar_lars-coslr.py'

num_patches = 20
data_root = 'data/tiny-imagenet-200'
patch = dict(type='MultiPatch', patch_size=64, scale=0.25,
             aspect_ratio_range=(1., 1.), interpolation='bilinear')

model = dict(num_patches=num_patches,
             # torchvision's resnet18 (released model/model.py): 7x7 stem,
             # max-pool, zero_init_residual=False.
             backbone=dict(_delete_=True, type='ResNet', depth=18,
                           zero_init_residual=False))
train_pipeline = [dict(type='LoadImageFromFile'),
                  dict(patch, num_patches=num_patches), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=100, num_workers=8, persistent_workers=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root=data_root,
                 data_prefix='train', pipeline=train_pipeline))

bof_pipeline = [dict(type='LoadImageFromFile'),
                dict(patch, num_patches={{_base_.bof_cfg.test_patches}}),
                dict(type='PackInputs')]
_bof_loader = dict(batch_size=50, num_workers=8,
                   sampler=dict(type='DefaultSampler', shuffle=False),
                   collate_fn=dict(type='default_collate'))
bof_dataloaders = dict(
    train=dict(**_bof_loader, dataset=dict(type='CustomDataset',
               data_root=data_root, data_prefix='train', pipeline=bof_pipeline)),
    val=dict(**_bof_loader, dataset=dict(type='CustomDataset',
             data_root=data_root, data_prefix='val', pipeline=bof_pipeline)))
