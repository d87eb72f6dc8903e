# EMAE (K parallel masks), ESSL storage with crop decode, the
# EfficientTrain++ curriculum.
# docs/dailymae.md lists every combination; the alternatives are in
# _base_/vit-tiny-p4_1xb64-10e_fashion-mnist.py.
_base_ = './_base_/vit-tiny-p4_1xb64-10e_fashion-mnist.py'

model = {{_base_.emae_model}}
train_dataloader = dict(batch_size={{_base_.emae_batch_size}})
auto_scale_lr = {{_base_.emae_auto_scale_lr}}
custom_hooks = [dict(type='EpochSeedHook'),
                {{_base_.efficienttrain_hook}}]
param_scheduler = [{{_base_.efficienttrain_lr}}]
train_cfg = dict(max_epochs={{_base_.efficienttrain_epochs}})
