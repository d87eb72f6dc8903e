# DailyMAE (Wu et al., 2024, "DailyMAE: Towards Pretraining Masked
# Autoencoders in One Day"): MAE ViT-B/16, 800 epochs on ImageNet-1K on one
# 8-GPU machine, from ESSL storage with crop decode (docs/dailymae.md).
# Inherits mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py
# (AdamW 1.5e-4 x 4096/256, betas (0.9, 0.95), 40 warm-up epochs, cosine)
# through configs/essl/: MAE, ESSL, no curriculum, plus the alternatives the
# configs in configs/dailymae/ pick (`{{_base_.name}}`). Derived numbers are
# computed here, next to the numbers they derive from.
#
# Storage (longer side <= 500, JPEG quality 90, as DailyMAE):
#   python tools/dataset_converters/essl_writer.py data/imagenet/train \
#       data/imagenet/train_500_q90.beton --max-resolution 500 \
#       --jpeg-quality 90 --write-mode jpg --workers 32
_base_ = ['../../essl/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k_essl.py',
          './models.py']
import mmeff.engine.curricula as curricula  # noqa: E402 (after _base_)

custom_hooks = [dict(type='EpochSeedHook')]
model = {{_base_.mae_model}}

data_root = 'data/imagenet/'
crop_ratio_range = (0.2, 1.0)
# ESSL (inherited): upstream's RandomResizedCrop(224, (0.2, 1.0), bicubic) +
# flip fused with decoding, RGB out; the stock loader as upstream (BGR out).
mae_batch_size = 512
train_dataloader = dict(batch_size=mae_batch_size)
num_gpus = 8
auto_scale_lr = dict(base_batch_size=mae_batch_size * num_gpus)
stock_loader = dict(
    _delete_=True, batch_size=mae_batch_size, num_workers=8,
    persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='ImageNet', data_root=data_root, split='train',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='RandomResizedCrop', scale=224,
                 crop_ratio_range=crop_ratio_range, backend='pillow',
                 interpolation='bicubic'),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackInputs')]))

# EMAE: 128 images x K=4 parts per GPU = MAE's 512 sequences per GPU, the
# same 4096 MAE tasks per step at the same LR, no chunking needed
# (configs/emae_vit-b_800e.py: 512 x 4 needs part_chunks=4). An EMAE epoch
# encodes every patch once, an MAE epoch a quarter of them, so it takes 4x
# the steps; for MAE-800e's compute, shorten the schedule.
emae_num_parts = 4
emae_batch_size = mae_batch_size // emae_num_parts
emae_model = dict(backbone=dict(num_parts=emae_num_parts))
emae_auto_scale_lr = dict(base_batch_size=emae_batch_size * num_gpus)

# DailyMAE's palindrome: 224 until 0.4 of the run, 192 until 0.8, then 224
# (ramp_end=0.8 is mmeff's choice; FastSSL's README ends the ramp at 0.5)
# (192 px = 144 patches, divisible by K=4).
palindrome_hook = dict(type='ProgressiveResolutionHook',
                       preset='dailymae_palindrome', ramp_end=0.8)
# EfficientTrain++ (Wang et al., 2024), Swin/ResNet bandwidths 96/160/224 at
# 0/0.2/0.6 of a budget of 800/1.5 full-resolution epochs; stages stretched
# by (224/B)^2. The LR follows the compute fraction (EfficientTrainLR over
# the same plan, 5% warm-up, as 40/800).
efficienttrain = dict(budget_epochs=800 / 1.5, full_size=224, preset='swin')
efficienttrain_hook = dict(type='EfficientTrainHook', crop_mode='fft',
                           **efficienttrain)
efficienttrain_lr = dict(type='EfficientTrainLR', convert_to_iter_based=True,
                         warmup=0.05, **efficienttrain)
efficienttrain_epochs = curricula.efficienttrain_schedule(
    **efficienttrain, patch_size=16).total_epochs
