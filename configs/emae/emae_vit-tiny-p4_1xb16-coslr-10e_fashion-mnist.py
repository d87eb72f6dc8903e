# EMAE on the bundled data: the quickstart's tiny ViT (32x32, 4x4 patches,
# 64 tokens) with K=4 parallel parts of 16 visible patches each. 16 images x
# 4 parts per iteration: the same 64 MAE tasks per step as the MAE config's
# batch of 64, at about the same cost per step (tools/benchmarks/
# emae_vs_mae.py). 10 epochs = 1,250 steps.
_base_ = '../quickstart/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist.py'

model = dict(
    type='EMAE',
    backbone=dict(type='EMAEViT', num_parts=4),
    consistency_weight=0.1,
    consistency=dict(type='SelfConsistencyLoss', criterion='L1'),
    part_chunks=1)

train_dataloader = dict(batch_size=16)
auto_scale_lr = dict(base_batch_size=16)
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
