# The plain MMPretrain user config, switched to EMAE by model.type alone
# (plus mmeff's backbone/neck with parallel masking).
_base_ = './mae_tiny_user.py'
model = dict(
    type='EMAE',
    backbone=dict(type='EMAEViT', num_parts=4),
    neck=dict(type='VarResMAEPretrainDecoder'))
