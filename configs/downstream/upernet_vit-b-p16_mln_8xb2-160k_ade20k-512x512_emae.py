# UperNet on an EMAE ViT-B/16, ADE20K 512x512, 160k iterations at batch 16:
# MAE's semantic-segmentation transfer (He et al., CVPR 2022, Sec. 5 and
# appendix A.4, which follows BEiT's segmentation code): features of blocks
# 4, 6, 8, 12 rescaled x4, x2, x1, x0.5 (here by MMSegmentation's
# MultiLevelNeck), AdamW lr 1e-4 wd 0.05, layer-wise lr decay 0.65,
# 1,500 warm-up iterations then linear decay, drop path 0.1.
#
# Target: MAE ViT-B UperNet, 48.1 mIoU (ADE20K val, single scale). Not
# reproduced here. What differs from MAE's run: no relative position bias
# (MAE turns it on, zero-initialised, for this transfer; MMPretrain's
# VisionTransformer has none), MultiLevelNeck (bilinear resize + convs)
# instead of BEiT's deconvolution pyramid, and 160k iterations (MAE: 100
# epochs at batch 16, about 126k).
#
# 1. export the pretrained encoder for this backbone (pos_embed 14x14 ->
#    32x32, coverage and round trip checked):
#      python tools/model_converters/export_vit.py \
#          work_dirs/emae_vit-b_800e/epoch_800.pth \
#          emae_vit-b_ade20k-512_backbone.pth --target-config \
#          configs/downstream/upernet_vit-b-p16_mln_8xb2-160k_ade20k-512x512_emae.py
# 2. train (8 GPUs x 2 images; see docs/downstream.md):
#      bash tools/dist_train.sh \
#          configs/downstream/upernet_vit-b-p16_mln_8xb2-160k_ade20k-512x512_emae.py 8
_base_ = [
    'mmseg::_base_/models/upernet_vit-b16_ln_mln.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]

custom_imports = dict(imports=['mmpretrain.models', 'mmeff'],
                      allow_failed_imports=False)

crop_size = (512, 512)
num_classes = 150
model = dict(
    # The base model names a timm-format checkpoint for mmseg's own ViT;
    # the backbone below loads through its init_cfg instead.
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='mmpretrain.VisionTransformer',
        arch='b',
        img_size=crop_size[0],
        patch_size=16,
        drop_path_rate=0.1,
        out_type='featmap',
        out_indices=(3, 5, 7, 11),
        # Intermediate features, as MAE/BEiT: no final norm on block 12.
        final_norm=False,
        init_cfg=dict(type='Pretrained',
                      checkpoint='emae_vit-b_ade20k-512_backbone.pth',
                      prefix='backbone.')),
    neck=dict(in_channels=[768, 768, 768, 768], out_channels=768,
              scales=[4, 2, 1, 0.5]),
    decode_head=dict(in_channels=[768, 768, 768, 768], channels=768,
                     num_classes=num_classes),
    auxiliary_head=dict(in_channels=768, num_classes=num_classes),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    constructor='BackboneLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.65),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.05))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500,
         end=160000),
]

# 16 images per iteration = 8 GPUs x 2.
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
