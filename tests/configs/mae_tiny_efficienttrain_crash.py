# The EfficientTrain++ run, killed by SIGKILL in the middle of epoch 4.
_base_ = './mae_tiny_efficienttrain.py'
custom_hooks = [dict(type='EpochSeedHook'), {{_base_.efficienttrain}},
                dict(type='InputSizeRecorderHook'),
                dict(type='KillProcessHook', epoch=3, iter_in_epoch=2)]
