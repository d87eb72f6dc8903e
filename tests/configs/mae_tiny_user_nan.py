# mae_tiny_user.py whose weights turn NaN at the start of epoch 2.
_base_ = './mae_tiny_user.py'
custom_imports = dict(imports=['mmeff', 'tests.helpers.faults'])
custom_hooks = [dict(type='EpochSeedHook'),
                dict(type='PoisonWeightsHook', epoch=1)]
