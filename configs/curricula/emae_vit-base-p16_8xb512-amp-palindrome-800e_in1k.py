# EMAE ViT-B/16 with DailyMAE's palindrome schedule (224 -> 192 -> 224).
# 192 px gives 144 patches, divisible by K=4.
_base_ = '../emae_vit-b_800e.py'

custom_hooks = [
    dict(type='EpochSeedHook'),
    dict(type='ProgressiveResolutionHook', preset='dailymae_palindrome',
         ramp_end=0.8),
]
