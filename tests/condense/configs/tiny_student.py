# A tiny SRe2L student: the tiny teacher's network trained on a condensed
# set with the teacher's stored soft labels (set the two paths with
# --cfg-options or merge_from_dict).
_base_ = './tiny_teacher.py'
condensed_root = None
relabel_dir = None

model = dict(head=dict(loss=dict(_delete_=True, type='SoftLabelKLLoss',
                                 temperature=20.)))
train_dataloader = dict(
    batch_size=5, num_workers=0,
    dataset=dict(_delete_=True, type='RelabelledDataset',
                 data_root=condensed_root, data_prefix='train',
                 relabel_dir=relabel_dir, seed=0,
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='ReplayCrop', scale=16),
                           dict(type='PackInputs')]))
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.01))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval=2))
custom_hooks = [dict(type='RelabelEpochHook')]
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0)
log_level = 'WARNING'
