# MAE, ESSL storage with crop decode, the EfficientTrain++ curriculum.
# docs/dailymae.md lists every combination; the alternatives are in
# _base_/vit-tiny-p4_1xb64-10e_fashion-mnist.py.
_base_ = './_base_/vit-tiny-p4_1xb64-10e_fashion-mnist.py'

custom_hooks = [dict(type='EpochSeedHook'),
                {{_base_.efficienttrain_hook}}]
param_scheduler = [{{_base_.efficienttrain_lr}}]
train_cfg = dict(max_epochs={{_base_.efficienttrain_epochs}})
