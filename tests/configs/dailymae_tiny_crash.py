# dailymae_tiny.py killed by SIGKILL in epoch index 3 (the second 24-px epoch).
_base_ = './dailymae_tiny.py'
custom_hooks = [dict(type='EpochSeedHook'), {{_base_.recorder}},
                dict(type='KillProcessHook', epoch=3, iter_in_epoch=0),
                {{_base_.palindrome_hook}}]
