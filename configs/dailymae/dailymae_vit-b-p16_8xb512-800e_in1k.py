# DailyMAE (Wu et al., 2024, "DailyMAE: Towards Pretraining Masked
# Autoencoders in One Day"): MAE ViT-B/16, 800 epochs on ImageNet-1K on one
# 8-GPU machine, from ESSL storage with crop decode and the palindrome
# resolution schedule (224 -> 192 -> 224). mmeff adds EMAE's parallel masks
# (Li et al., 2023) as the default algorithm. docs/dailymae.md.
# Inherits mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py
# (AdamW 1.5e-4 x 4096/256, betas (0.9, 0.95), 40 warm-up epochs, cosine)
# through configs/essl/.
#
# Storage (longer side <= 500, JPEG quality 90, as DailyMAE):
#   python tools/dataset_converters/essl_writer.py data/imagenet/train \
#       data/imagenet/train_500_q90.beton --max-resolution 500 \
#       --jpeg-quality 90 --write-mode jpg --workers 32
# Train:
#   bash tools/dist_train.sh configs/dailymae/dailymae_vit-b-p16_8xb512-800e_in1k.py 8
#   ... --cfg-options dailymae.algorithm=mae     # DailyMAE as published
#
# With algorithm='emae' a step holds 128 images x 4 parts per GPU, the same
# 4096 MAE tasks per step as MAE's 8 x 512, so an EMAE epoch takes 4x the
# steps of an MAE epoch (every patch is encoded once per epoch instead of a
# quarter of them). For MAE-800e's compute, shorten the schedule (the EMAE
# paper reports ViT-B at 300 epochs above MAE at 1600).
_base_ = [
    '../essl/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k_essl.py',
    './_base_/dailymae_models.py',  # the MAE / EMAE model alternatives
]

# Scoped: MMPretrain's tools/train.py builds runners from MMEngine's root
# registry, which finds mmeff's runners only by their scope.
runner_type = 'mmpretrain.DailyMAERunner'
dailymae = dict(
    essl=True,              # True: ESSL file | False: stock MMPretrain loader
    algorithm='emae',       # 'mae' | 'emae'
    curriculum='palindrome',  # None | 'palindrome' | 'efficienttrain'
)

custom_hooks = [dict(type='EpochSeedHook')]

data_root = 'data/imagenet/'
crop_ratio_range = (0.2, 1.0)

# Each alternative is a config fragment (dicts merge key by key,
# `_delete_=True` replaces, lists replace, custom_hooks are appended).
dailymae_components = dict(
    loader=dict(
        # Upstream's RandomResizedCrop(224, (0.2, 1.0), bicubic) + flip,
        # fused with decoding (ESSL, RGB out) or as upstream (BGR out).
        essl=dict(
            train_dataloader=dict(
                _delete_=True, type='ESSLLoader',
                path=data_root + 'train_500_q90.beton', num_workers=8,
                decoder=dict(type='RandomResizedCrop', scale=224,
                             crop_ratio_range=crop_ratio_range,
                             interpolation='bicubic'),
                batch_transforms=[dict(type='BatchRandomFlip', prob=0.5)]),
            data_preprocessor=dict(to_rgb=False)),
        stock=dict(
            train_dataloader=dict(
                _delete_=True, num_workers=8, persistent_workers=True,
                sampler=dict(type='DefaultSampler', shuffle=True),
                collate_fn=dict(type='default_collate'),
                dataset=dict(
                    type='ImageNet', data_root=data_root, split='train',
                    pipeline=[
                        dict(type='LoadImageFromFile'),
                        dict(type='RandomResizedCrop', scale=224,
                             crop_ratio_range=crop_ratio_range,
                             backend='pillow', interpolation='bicubic'),
                        dict(type='RandomFlip', prob=0.5),
                        dict(type='PackInputs')])),
            data_preprocessor=dict(to_rgb=True))),
    # The model dicts are in _base_/dailymae_models.py; the batch per
    # alternative gives the same MAE tasks per step at the same LR.
    model=dict(
        mae=dict(
            train_dataloader=dict(batch_size=512),
            auto_scale_lr=dict(base_batch_size=4096)),
        emae=dict(
            # 128 x 4 parts = MAE's 512 sequences per GPU: no chunking needed
            # (configs/emae_vit-b_800e.py: 512 x 4 needs part_chunks=4).
            train_dataloader=dict(batch_size=128),
            auto_scale_lr=dict(base_batch_size=1024))),
    curriculum=dict(
        # DailyMAE's palindrome: 224 until 0.4 of the run, 192 until 0.8,
        # then 224 (192 px = 144 patches, divisible by K=4).
        palindrome=dict(custom_hooks=[
            dict(type='ProgressiveResolutionHook',
                 preset='dailymae_palindrome', ramp_end=0.8)]),
        # EfficientTrain++ (Wang et al., 2024), Swin/ResNet bandwidths
        # 96/160/224 at 0/0.2/0.6 of a budget of 800/1.5 full-resolution
        # epochs; stages stretched by (224/B)^2 make 1212 epochs. The hook
        # sets the LR from the compute fraction (5% warm-up, as 40/800).
        efficienttrain=dict(
            custom_hooks=[
                dict(type='EfficientTrainHook', budget_epochs=800 / 1.5,
                     full_size=224, preset='swin', crop_mode='fft',
                     warmup=0.05)],
            param_scheduler=[],
            train_cfg=dict(max_epochs=1212))),
)
