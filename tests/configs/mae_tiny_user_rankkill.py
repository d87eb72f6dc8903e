# mae_tiny_user.py in which rank 1 of a distributed run is SIGKILLed in the
# middle of epoch 2.
_base_ = './mae_tiny_user.py'
custom_imports = dict(imports=['mmeff', 'tests.helpers.crash_hook'])
custom_hooks = [
    dict(type='EpochSeedHook'),
    dict(type='KillProcessHook', epoch=1, iter_in_epoch=1, rank=1),
]
