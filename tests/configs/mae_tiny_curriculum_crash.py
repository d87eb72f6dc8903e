# The palindrome run, killed by SIGKILL in the middle of epoch 5 (index 4).
_base_ = './mae_tiny_curriculum.py'
custom_hooks = [dict(type='EpochSeedHook'), {{_base_.palindrome}},
                dict(type='InputSizeRecorderHook'),
                dict(type='KillProcessHook', epoch=4, iter_in_epoch=2)]
