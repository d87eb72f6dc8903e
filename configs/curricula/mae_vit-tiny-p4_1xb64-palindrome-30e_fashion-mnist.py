# The quickstart MAE with DailyMAE's palindrome, scaled from 224 to 32 px:
# 32 -> 28 -> 32 (sizes on the 4-pixel patch grid).
_base_ = '../quickstart/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist.py'

custom_hooks = [
    dict(type='EpochSeedHook'),
    dict(type='ProgressiveResolutionHook', preset='dailymae_palindrome',
         ramp_end=0.8, scale_to=32),
]
