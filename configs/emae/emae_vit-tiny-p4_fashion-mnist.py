# EMAE on the bundled data: the quickstart's tiny ViT (32x32, 4x4 patches,
# 64 tokens) with K=4 parallel parts of 16 visible patches each. An EMAE
# iteration costs about 3-4 MAE iterations here, so it runs 10 epochs where
# the MAE config runs 30 (similar compute).
_base_ = '../quickstart/mae_vit-tiny-p4_fashion-mnist.py'

model = dict(
    type='EMAE',
    backbone=dict(type='EMAEViT', num_parts=4),
    consistency_weight=0.1,
    consistency=dict(type='SelfConsistencyLoss', criterion='L1'),
    part_chunks=1)

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
