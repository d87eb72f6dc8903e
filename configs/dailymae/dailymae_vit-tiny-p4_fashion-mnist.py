# DailyMAE on the bundled Fashion-MNIST subset (docs/dailymae.md): the
# quickstart's tiny ViT (32x32 inputs, 4x4 patches, 6 x 128) composed from
# ESSL storage + crop decode (DailyMAE, Wu et al., 2024), EMAE's parallel
# masks with self-consistency (Li et al., 2023) and a resolution curriculum.
# Inherits mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py
# through configs/essl/ and configs/quickstart/.
#
#   python tools/quickstart.py --epochs 1   # writes data/ and train.beton once
#   python tools/train.py configs/dailymae/dailymae_vit-tiny-p4_fashion-mnist.py
#   python tools/train.py configs/dailymae/dailymae_vit-tiny-p4_fashion-mnist.py \
#       --cfg-options dailymae.essl=False dailymae.algorithm=mae \
#       dailymae.curriculum=None       # = stock MMPretrain MAE
_base_ = [
    '../essl/mae_vit-tiny-p4_fashion-mnist_essl.py',
    './_base_/dailymae_models.py',  # the MAE / EMAE model alternatives
]

# DailyMAERunner merges the alternatives picked here from
# dailymae_components onto this config before building (an ESSLRunner after
# that). The resolved config is dumped into the work dir.
# Scoped: MMPretrain's tools/train.py builds runners from MMEngine's root
# registry, which finds mmeff's runners only by their scope.
runner_type = 'mmpretrain.DailyMAERunner'
dailymae = dict(
    essl=True,              # True: ESSL file | False: stock MMPretrain loader
    algorithm='emae',       # 'mae' | 'emae'
    curriculum='palindrome',  # None | 'palindrome' | 'efficienttrain'
)

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

# Each alternative is a config fragment (dicts merge key by key,
# `_delete_=True` replaces, lists replace, custom_hooks are appended).
dailymae_components = dict(
    loader=dict(
        # The same RandomResizedCrop either way; ESSL fuses it with decoding
        # and yields RGB, LoadImageFromFile yields BGR (hence to_rgb).
        essl=dict(
            train_dataloader=dict(
                _delete_=True, type='ESSLLoader',
                path=data_root + '/train.beton', num_workers=2,
                decoder=dict(type='RandomResizedCrop', scale=img_size,
                             crop_ratio_range=crop_ratio_range,
                             interpolation='bicubic'),
                batch_transforms=[dict(type='BatchRandomFlip', prob=0.5)]),
            model=dict(data_preprocessor=dict(to_rgb=False))),
        stock=dict(
            train_dataloader=dict(
                _delete_=True, num_workers=2, persistent_workers=True,
                sampler=dict(type='DefaultSampler', shuffle=True),
                collate_fn=dict(type='default_collate'),
                dataset=dict(
                    type='CustomDataset', data_root=data_root,
                    data_prefix='train', pipeline=[
                        dict(type='LoadImageFromFile'),
                        dict(type='RandomResizedCrop', scale=img_size,
                             crop_ratio_range=crop_ratio_range,
                             backend='pillow', interpolation='bicubic'),
                        dict(type='RandomFlip', prob=0.5),
                        dict(type='PackInputs')])),
            model=dict(data_preprocessor=dict(to_rgb=True)))),
    # The model dicts are in _base_/dailymae_models.py. Same MAE tasks per
    # step: 64 images, or 16 images x K=4 parts at the
    # same learning rate (auto_scale_lr keeps it at the declared batch).
    model=dict(
        mae=dict(
            train_dataloader=dict(batch_size=64),
            auto_scale_lr=dict(base_batch_size=64)),
        emae=dict(
            train_dataloader=dict(batch_size=16),
            auto_scale_lr=dict(base_batch_size=16))),
    curriculum=dict(
        # DailyMAE's palindrome (224 -> 192 -> 224, boundaries at 0.4 and
        # 0.8 of the run) at 32 px. The middle size is 24, not the 28 that
        # scaling 192 gives: 28 px is 7x7 patches, which K=4 cannot split,
        # and one size for both algorithms keeps the toggles independent.
        palindrome=dict(custom_hooks=[
            dict(type='ProgressiveResolutionHook', by_epoch=False,
                 stages=[dict(begin=0, size=32), dict(begin=0.4, size=24),
                         dict(begin=0.8, size=32)])]),
        # EfficientTrain++ (Wang et al., 2024): a compute budget of
        # max_epochs / 1.5 full-resolution epochs (its published claim is
        # equal quality at ~1.5x less compute), bandwidths 16/24/32 (the
        # Swin preset's 12 px gives 9 patches, not divisible by K=4). Stages
        # are stretched by (32/B)^2: 13 epochs; the hook owns the LR.
        efficienttrain=dict(
            custom_hooks=[
                dict(type='EfficientTrainHook', budget_epochs=max_epochs / 1.5,
                     full_size=img_size,
                     stages=[(0.0, 16), (0.2, 24), (0.6, 32)],
                     crop_mode='fft', warmup=0.1)],
            param_scheduler=[],
            train_cfg=dict(max_epochs=13))),
)
