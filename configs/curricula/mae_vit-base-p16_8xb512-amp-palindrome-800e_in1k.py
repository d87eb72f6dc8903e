# MAE ViT-B/16 800 epochs with DailyMAE's palindrome resolution schedule
# (224 -> 192 -> 224; boundaries at E/2 and E for a ramp end E = 0.8 of the
# run). Batch size and LR stay as in the upstream recipe. The encoder/decoder
# rebuild their sin-cos position tables for each input grid.
_base_ = 'mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'

custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)

# Inheriting an mmpretrain:: config stamps `_scope_` into its collate_fn,
# which MMEngine 0.10.7's Runner passes on to default_collate (a TypeError
# under MMPretrain's tools/train.py); a replaced dict carries no `_scope_`.
train_dataloader = dict(
    collate_fn=dict(_delete_=True, type='default_collate'))

model = dict(backbone=dict(type='VarResMAEViT'),
             neck=dict(type='VarResMAEPretrainDecoder'))
custom_hooks = [
    dict(type='EpochSeedHook'),
    dict(type='ProgressiveResolutionHook', preset='dailymae_palindrome',
         ramp_end=0.8),
]

# Fixed per-step cost down: one param group per setting with the fused AdamW
# kernel, losses synchronised at the logger's interval (docs/benchmarks.md).
optim_wrapper = dict(constructor='MergedGroupsOptimWrapperConstructor',
                     optimizer=dict(fused=True))
default_hooks = dict(runtime_info=dict(type='BufferedRuntimeInfoHook'))
