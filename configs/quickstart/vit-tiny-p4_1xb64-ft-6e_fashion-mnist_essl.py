# The quickstart's fine-tuning step: MMPretrain's MAE fine-tuning recipe
# (He et al., CVPR 2022; AdamW, layer-wise lr decay, warm-up + cosine,
# label smoothing 0.1, drop path 0.1) through the tiny DailyMAE variant
# beside the downstream configs, shortened to fit the quickstart. What is
# dropped, and why: mixup / cutmix, ThreeAugment and the resolution ramp
# regularise 100-epoch runs and slow a run of a few hundred steps down.
#
# tools/quickstart.py runs it twice with the same steps and seed: once from
# the pretrained encoder (exported beside the pretraining logs, loaded with
# init_cfg Pretrained) and once from scratch (init_cfg None). Alone:
#   python tools/train.py \
#       configs/quickstart/vit-tiny-p4_1xb64-ft-6e_fashion-mnist_essl.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=BACKBONE.pth
_base_ = '../downstream/vit-tiny-p4_1xb64-dailymae-ft-20e_fashion-mnist_essl.py'

data_root = 'data/fashion-mnist-mini'
img_size = 32
batch_size = 64

model = dict(train_cfg=dict(_delete_=True))  # no mixup / cutmix
train_dataloader = dict(
    path=f'{data_root}/train.beton', batch_size=batch_size,
    batch_transforms=[dict(type='BatchRandomFlip', prob=0.5)])
val_dataloader = dict(path=f'{data_root}/val.beton')
test_dataloader = val_dataloader

max_epochs = 6
warmup_epochs = 1
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=1e-6, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
# Scored once, on the held-out split, after the last epoch.
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(
    runtime_info=dict(type='BufferedRuntimeInfoHook'),
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs,
                    max_keep_ckpts=1))
custom_hooks = []
randomness = dict(seed=0, diff_rank_seed=True)
