# Standard linear probe of an EMP-SSL CIFAR ResNet-18 (Tong, Chen, Ma,
# LeCun, 2023) on CIFAR-10: frozen backbone (all four stages, BatchNorm in
# eval mode), global average pooling of the whole 32x32 image, a linear
# classifier trained with SGD for 100 epochs at batch 256 (cosine, no
# weight decay), MMPretrain's CIFAR augmentation (random crop with 4-pixel
# padding, flip). Inherits MMPretrain's supervised CIFAR ResNet-18 config.
#
# This is not EMP-SSL's own evaluation: the paper probes a bag of features
# (mean of the projector's pre-features over 128 patches per image, SGD
# linear probe of the released func.py; tools/empssl_eval.py --protocol
# reference, docs/empssl.md), published 85.1% after 1 epoch of pretraining.
# The probe here measures the encoder alone, as MMPretrain's
# linear benchmarks do; its hyper-parameters are our choice and the number
# was not measured.
#
# The pretraining checkpoint loads directly (its keys start with
# `backbone.`); to check coverage first, export it for this backbone:
#   python tools/model_converters/export_vit.py \
#       work_dirs/empssl_resnet18-cifar_1xb100-n20-1e_cifar10/epoch_1.pth \
#       empssl_resnet18-cifar_backbone.pth --target-config \
#       configs/downstream/resnet18-cifar_linear-probe-100e_cifar10_empssl.py
#   python tools/train.py \
#       configs/downstream/resnet18-cifar_linear-probe-100e_cifar10_empssl.py
_base_ = 'mmpretrain::resnet/resnet18_8xb16_cifar10.py'

custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)

# EMP-SSL's released code normalises with mean = std = 0.5; the probe sees
# the inputs the encoder was trained on.
data_preprocessor = dict(mean=[127.5] * 3, std=[127.5] * 3)

model = dict(
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained',
                      checkpoint='empssl_resnet18-cifar_backbone.pth',
                      prefix='backbone.')))

train_dataloader = dict(batch_size=256, num_workers=4)
val_dataloader = dict(batch_size=256, num_workers=4)
test_dataloader = val_dataloader

max_epochs = 100
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.))
param_scheduler = dict(_delete_=True, type='CosineAnnealingLR',
                       T_max=max_epochs, by_epoch=True, begin=0,
                       end=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
auto_scale_lr = dict(base_batch_size=256)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
