# The model alternatives of the DailyMAE configs (dailymae.algorithm). Both
# use the variable-resolution encoder/decoder (sin-cos tables rebuilt per
# grid), so the curricula work. EMAE: Li et al., 2023, K=4 disjoint visible
# sets, self-consistency weight 0.1 (configs/emae/). Each DailyMAE config
# adds the batch size of each alternative (same MAE tasks per step).
dailymae_components = dict(
    model=dict(
        mae=dict(
            model=dict(type='MAE', backbone=dict(type='VarResMAEViT'),
                       neck=dict(type='VarResMAEPretrainDecoder'))),
        emae=dict(
            model=dict(type='EMAE',
                       backbone=dict(type='EMAEViT', num_parts=4),
                       neck=dict(type='VarResMAEPretrainDecoder'),
                       consistency_weight=0.1,
                       consistency=dict(type='SelfConsistencyLoss',
                                        criterion='L1'),
                       part_chunks=1))))
