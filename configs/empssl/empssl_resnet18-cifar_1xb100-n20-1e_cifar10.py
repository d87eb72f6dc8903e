# EMP-SSL, CIFAR-10, 1 epoch (paper, linear probe on bag-of-features: 85.1%
# after 1 epoch, 91.5% after 10: --cfg-options train_cfg.max_epochs=10
# param_scheduler.0.T_max=10 param_scheduler.0.end=10).
# n = 20 patches as in the released README's CIFAR command
# (`main.py --epoch 2 ... --num_patches 20`, read after epoch 1): the cosine
# spans 2 epochs of the real length (1,000 iterations at batch 100) and
# training stops after the first.
_base_ = './_base_/empssl_resnet18-cifar_lars-coslr.py'

num_patches = 20
data_root = 'data/cifar10'
dataset_type = 'CIFAR10'
# MMPretrain's CIFAR datasets hold RGB arrays; 32x32 patches of 16x16 crops.
patch = dict(type='MultiPatch', patch_size=32, scale=0.25,
             aspect_ratio_range=(1., 1.), interpolation='bilinear',
             channel_order='rgb')

model = dict(num_patches=num_patches)
train_pipeline = [dict(patch, num_patches=num_patches), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=100, num_workers=8, persistent_workers=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))

bof_pipeline = [dict(patch, num_patches={{_base_.bof_cfg.test_patches}}),
                dict(type='PackInputs')]
_bof_loader = dict(batch_size=50, num_workers=8,
                   sampler=dict(type='DefaultSampler', shuffle=False),
                   collate_fn=dict(type='default_collate'))
bof_dataloaders = dict(
    train=dict(**_bof_loader, dataset=dict(type=dataset_type, data_root=data_root,
                                           split='train', pipeline=bof_pipeline)),
    val=dict(**_bof_loader, dataset=dict(type=dataset_type, data_root=data_root,
                                         split='test', pipeline=bof_pipeline)))
