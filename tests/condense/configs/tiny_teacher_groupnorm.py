# The tiny teacher with GroupNorm instead of BatchNorm: nothing to match.
_base_ = './tiny_teacher.py'
norm_cfg = dict(type='GN', num_groups=2)
model = dict(backbone=dict(norm_cfg=norm_cfg))
