# MAE, ESSL storage with crop decode, DailyMAE's palindrome resolution
# schedule.
# docs/dailymae.md lists every combination; the alternatives are in
# _base_/vit-b-p16_8xb512-800e_in1k.py.
_base_ = './_base_/vit-b-p16_8xb512-800e_in1k.py'

custom_hooks = [dict(type='EpochSeedHook'),
                {{_base_.palindrome_hook}}]
