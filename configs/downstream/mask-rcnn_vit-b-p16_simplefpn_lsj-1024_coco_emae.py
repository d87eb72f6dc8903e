# Mask R-CNN on a plain EMAE ViT-B/16 with ViTDet's simple feature pyramid
# (Li, Mao, Girshick, He, ECCV 2022, "Exploring Plain Vision Transformer
# Backbones for Object Detection"), COCO, large-scale jitter at 1024 px,
# 184,375 iterations at batch 64 (about 100 epochs).
#
# Target: ViTDet's ViT-B Mask R-CNN with MAE pretraining, 51.6 box AP /
# 45.9 mask AP (COCO val2017). Not reproduced here. What differs from ViTDet:
#   - MMPretrain's VisionTransformer has global attention in all 12 blocks
#     (ViTDet: 14x14 window attention, global in blocks 3, 6, 9, 12) and no
#     relative position bias (ViTDet adds decomposed relative position
#     biases); global attention over 64x64 tokens costs more memory and time;
#   - the class token is kept (ViTDet drops it);
#   - weight decay is 0 for all 1-D parameters (MAE's rule; ViTDet's
#     Detectron2 setup decays biases outside norms);
#   - images are padded to 1024x1024 by BatchFixedSizePad (0 after
#     normalisation) rather than Detectron2's fixed-size padding.
# Same as ViTDet: drop path 0.1, SimpleFeaturePyramid (strides 4-64), RPN
# with 2 convs, 4conv1fc box head and mask head with LayerNorm, LSJ scale
# (0.1, 2.0), AdamW lr 1e-4 betas (0.9, 0.999) wd 0.1, layer decay 0.7,
# warm-up 250 iterations, lr x0.1 at iterations 163,889 and 177,546, AMP.
#
# 1. export the pretrained encoder for this backbone (pos_embed 14x14 ->
#    64x64, key coverage and round trip checked):
#      python tools/model_converters/export_vit.py \
#          work_dirs/emae_vit-b_800e/epoch_800.pth \
#          emae_vit-b_coco-1024_backbone.pth --target-config \
#          configs/downstream/mask-rcnn_vit-b-p16_simplefpn_lsj-1024_coco_emae.py
# 2. train (8 GPUs x 8 images; see docs/downstream.md):
#      bash tools/dist_train.sh \
#          configs/downstream/mask-rcnn_vit-b-p16_simplefpn_lsj-1024_coco_emae.py 8
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::common/lsj-100e_coco-instance.py',
]

# mmpretrain.models registers VisionTransformer and LN2d; mmeff registers
# SimpleFeaturePyramid and the layer-decay constructor.
custom_imports = dict(imports=['mmpretrain.models', 'mmeff'],
                      allow_failed_imports=False)

image_size = (1024, 1024)
# LayerNorm over channels in the heads, as ViTDet; MMPretrain's LN2d is
# reached from the mmdet scope by its prefix.
head_norm_cfg = dict(type='mmpretrain.LN2d', requires_grad=True)

model = dict(
    data_preprocessor=dict(
        pad_size_divisor=32,
        batch_augments=[
            dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)
        ]),
    backbone=dict(
        _delete_=True,
        type='mmpretrain.VisionTransformer',
        arch='b',
        img_size=1024,
        patch_size=16,
        drop_path_rate=0.1,
        out_type='featmap',
        out_indices=(11, ),
        # ViTDet takes the last block's output without the encoder's final
        # norm; the exporter reports the pretrained `ln1` as unused.
        final_norm=False,
        init_cfg=dict(type='Pretrained',
                      checkpoint='emae_vit-b_coco-1024_backbone.pth',
                      prefix='backbone.')),
    neck=dict(
        _delete_=True,
        type='mmpretrain.SimpleFeaturePyramid',
        in_channels=768,
        out_channels=256,
        scale_factors=(4.0, 2.0, 1.0, 0.5),
        num_outs=5),
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', conv_out_channels=256,
                       norm_cfg=head_norm_cfg),
        mask_head=dict(norm_cfg=head_norm_cfg)))

# Batch 64 = 8 GPUs x 8 images (ViTDet: 64).
train_dataloader = dict(batch_size=8, num_workers=4)

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    constructor='BackboneLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.7),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.1))

max_iters = 184375
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=250),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[163889, 177546], gamma=0.1),
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop',
                 max_iters=max_iters, val_interval=10000)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000,
                    max_keep_ckpts=2, save_last=True))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(base_batch_size=64)
