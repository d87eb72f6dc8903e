# mae_tiny_user.py keeping one checkpoint, SIGKILLed half-way through
# writing epoch_3.pth.
_base_ = './mae_tiny_user.py'
custom_imports = dict(imports=['mmeff', 'tests.helpers.faults'])
default_hooks = dict(checkpoint=dict(
    type='CheckpointHook', interval=1, max_keep_ckpts=1,
    backend_args=dict(backend='kill_mid_write', kill_when='epoch_3.pth')))
