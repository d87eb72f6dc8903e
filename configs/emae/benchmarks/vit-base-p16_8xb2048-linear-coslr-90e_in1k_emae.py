# Linear probe of an EMAE ViT-B/16 on ImageNet-1K with MMPretrain's MAE
# linear-probing recipe (LARS lr 6.4, 90 epochs, BN on the cls token).
# The checkpoint comes from tools/model_converters/export_vit.py (see the
# fine-tuning config beside this one).
_base_ = 'mmpretrain::mae/benchmarks/vit-base-p16_8xb2048-linear-coslr-90e_in1k.py'

custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)

model = dict(backbone=dict(init_cfg=dict(
    type='Pretrained', checkpoint='emae_vit-b_backbone.pth',
    prefix='backbone.')))
