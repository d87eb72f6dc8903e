# The bundled DailyMAE config (ESSL + EMAE + palindrome) cut to 5 epochs for
# tests; the ESSL path is set with --cfg-options. Palindrome over 5 epochs:
# 32 px in epochs 0-1, 24 px in 2-3, 32 px in 4.
_base_ = '../../configs/dailymae/dailymae_vit-tiny-p4_1xb64-10e_fashion-mnist.py'
custom_imports = dict(imports=['mmeff', 'tests.helpers.recorder_hook',
                               'tests.helpers.crash_hook'],
                      allow_failed_imports=False)
train_cfg = dict(max_epochs=5)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=5, by_epoch=True,
                        convert_to_iter_based=True)]
default_hooks = dict(logger=dict(interval=1))
recorder = dict(type='InputSizeRecorderHook')
custom_hooks = [dict(type='EpochSeedHook'), recorder,
                {{_base_.palindrome_hook}}]
train_dataloader = dict(path=None, num_workers=1)
