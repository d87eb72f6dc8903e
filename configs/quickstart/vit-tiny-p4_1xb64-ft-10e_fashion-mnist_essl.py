# The quickstart's fine-tuning step on the 2,000 labelled images:
# MMPretrain's MAE fine-tuning recipe (He et al., CVPR 2022; AdamW,
# layer-wise lr decay, warm-up + cosine, label smoothing 0.1, drop path 0.1)
# through the tiny DailyMAE variant beside the downstream configs, shortened
# to fit the quickstart. Dropped: mixup / cutmix, ThreeAugment and the
# resolution ramp, which regularise 100-epoch runs and slow a run of a few
# hundred steps down. Epochs, lr and layer decay were chosen by
# tools/analysis_tools/finetune_search.py on a 1,600 / 400 split of the
# labelled images (docs/quickstart.md); the held-out test images were not
# used.
#
# tools/quickstart.py runs it from the pretrained encoder (exported beside
# the pretraining logs, loaded with init_cfg Pretrained), from scratch with
# the same steps and seed, and from scratch for the wall time of
# pretraining + fine-tuning. Alone:
#   python tools/train.py \
#       configs/quickstart/vit-tiny-p4_1xb64-ft-10e_fashion-mnist_essl.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=BACKBONE.pth
_base_ = '../downstream/vit-tiny-p4_1xb64-dailymae-ft-20e_fashion-mnist_essl.py'

data_root = 'data/fashion-mnist'
img_size = 32
batch_size = 64

model = dict(train_cfg=dict(_delete_=True))  # no mixup / cutmix
train_dataloader = dict(
    path=f'{data_root}/train.beton', batch_size=batch_size,
    batch_transforms=[dict(type='BatchRandomFlip', prob=0.5)])
val_dataloader = dict(path=f'{data_root}/val.beton')
test_dataloader = val_dataloader

# 2x the downstream config's lr; layer decay 0.65, MMPretrain's MAE value.
optim_wrapper = dict(optimizer=dict(lr=5e-4 * batch_size / 256 * 16),
                     paramwise_cfg=dict(layer_decay_rate=0.65))
max_epochs = 10
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
