# DailyMAE on the bundled Fashion-MNIST subset: the quickstart's tiny ViT
# (32x32 inputs, 4x4 patches, 6 x 128) as MAE from ESSL storage with no
# curriculum, plus the alternatives the configs in configs/dailymae/ pick
# (`{{_base_.name}}`): the stock loader, EMAE's batch, the two curricula.
# Derived numbers are computed here, next to the numbers they derive from.
_base_ = ['../../essl/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist_essl.py',
          './models.py']
import mmeff.engine.curricula as curricula  # noqa: E402 (after _base_)

data_root = 'data/fashion-mnist-mini'
img_size = 32
crop_ratio_range = (0.35, 1.0)
max_epochs = 10
warmup_epochs = 1
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
model = {{_base_.mae_model}}

# ESSL (inherited) fuses RandomResizedCrop with decoding and yields RGB; the
# stock loader runs the same crop after LoadImageFromFile (BGR, to_rgb=True).
mae_batch_size = 64
train_dataloader = dict(batch_size=mae_batch_size, num_workers=2)
auto_scale_lr = dict(base_batch_size=mae_batch_size)
stock_loader = dict(
    _delete_=True, batch_size=mae_batch_size, num_workers=2,
    persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset', data_root=data_root, data_prefix='train',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='RandomResizedCrop', scale=img_size,
                 crop_ratio_range=crop_ratio_range, backend='pillow',
                 interpolation='bicubic'),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackInputs')]))

# EMAE: the same MAE tasks per step (64 images, or 64 / K images x K parts)
# at the same learning rate (auto_scale_lr keeps it at the declared batch).
emae_num_parts = 4
emae_batch_size = mae_batch_size // emae_num_parts
emae_model = dict(backbone=dict(num_parts=emae_num_parts))
emae_auto_scale_lr = dict(base_batch_size=emae_batch_size)

# DailyMAE's palindrome (224 -> 192 -> 224, boundaries at 0.4 and 0.8 of the
# run) at 32 px. The middle size is 24, not the 28 that scaling 192 gives:
# 28 px is 7x7 patches, which K=4 cannot split, and one size for both
# algorithms keeps the alternatives independent.
palindrome_hook = dict(
    type='ProgressiveResolutionHook', by_epoch=False,
    stages=[dict(begin=0, size=32), dict(begin=0.4, size=24),
            dict(begin=0.8, size=32)])
# EfficientTrain++ (Wang et al., 2024): a compute budget of max_epochs / 1.5
# full-resolution epochs (its published claim is equal quality at ~1.5x less
# compute), bandwidths 16/24/32 (the Swin preset's 12 px gives 9 patches,
# not divisible by K=4). Stages are stretched by (32/B)^2; the LR follows
# the compute fraction (EfficientTrainLR over the same plan).
efficienttrain = dict(budget_epochs=max_epochs / 1.5, full_size=img_size,
                      stages=[(0.0, 16), (0.2, 24), (0.6, 32)])
efficienttrain_hook = dict(type='EfficientTrainHook', crop_mode='fft',
                           **efficienttrain)
efficienttrain_lr = dict(type='EfficientTrainLR', convert_to_iter_based=True,
                         warmup=0.1, **efficienttrain)
efficienttrain_epochs = curricula.efficienttrain_schedule(
    **efficienttrain, patch_size=4).total_epochs
