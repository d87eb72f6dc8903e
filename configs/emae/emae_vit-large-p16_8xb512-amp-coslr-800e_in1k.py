# EMAE ViT-L/16, 800 epochs, ImageNet-1K (Li et al., 2023, arXiv:2302.14431).
# MMPretrain's MAE ViT-L 800-epoch recipe with EMAE's K=4 parallel masking and
# self-consistency. The paper reports its best ViT-L results using 13% of MAE's
# pretraining time; the epoch count here follows the upstream MAE schedule.
_base_ = 'mmpretrain::mae/mae_vit-large-p16_8xb512-amp-coslr-800e_in1k.py'

custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)

# Inheriting an mmpretrain:: config stamps `_scope_` into its collate_fn,
# which MMEngine 0.10.7's Runner passes on to default_collate (a TypeError
# under MMPretrain's tools/train.py); a replaced dict carries no `_scope_`.
train_dataloader = dict(
    collate_fn=dict(_delete_=True, type='default_collate'))

model = dict(
    type='EMAE',
    backbone=dict(type='EMAEViT', num_parts=4),
    neck=dict(type='VarResMAEPretrainDecoder'),
    consistency_weight=0.1,
    consistency=dict(type='SelfConsistencyLoss', criterion='L1'),
    part_chunks=4)

custom_hooks = [dict(type='EpochSeedHook')]
