# The model alternatives of the DailyMAE configs, merged onto the inherited
# MAE model (`model = {{_base_.mae_model}}`). Both use the variable-resolution
# encoder/decoder (sin-cos tables rebuilt per grid), so the curricula work.
# EMAE: Li et al., 2023, self-consistency weight 0.1 (configs/emae/); each
# scale file sets K (`emae_num_parts`) and the batch that goes with it.
mae_model = dict(type='MAE', backbone=dict(type='VarResMAEViT'),
                 neck=dict(type='VarResMAEPretrainDecoder'))
emae_model = dict(
    type='EMAE', backbone=dict(type='EMAEViT'),
    neck=dict(type='VarResMAEPretrainDecoder'), consistency_weight=0.1,
    consistency=dict(type='SelfConsistencyLoss', criterion='L1'),
    part_chunks=1)
