# mae_tiny_user.py interrupted by SIGINT (what Ctrl-C sends) in epoch 3.
_base_ = './mae_tiny_user.py'
custom_imports = dict(imports=['mmeff', 'tests.helpers.crash_hook'])
custom_hooks = [
    dict(type='EpochSeedHook'),
    dict(type='KillProcessHook', epoch=2, iter_in_epoch=2, sig='SIGINT'),
]
