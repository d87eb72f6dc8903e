# Fine-tune an EMAE ViT-B/16 on ImageNet-1K with MMPretrain's MAE fine-tuning
# recipe (100 epochs, layer decay 0.65, mixup/cutmix, drop path 0.1).
#   python tools/model_converters/export_vit.py \
#       work_dirs/emae_vit-b_800e/epoch_800.pth emae_vit-b_backbone.pth \
#       --format mmpretrain
#   tools/dist_train.sh configs/emae/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k_emae.py 8  # noqa: E501
_base_ = 'mmpretrain::mae/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.py'

custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)

model = dict(backbone=dict(init_cfg=dict(
    type='Pretrained', checkpoint='emae_vit-b_backbone.pth',
    prefix='backbone.')))
