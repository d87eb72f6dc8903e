# EMP-SSL recipe (Tong, Chen, Ma, LeCun, 2023, "EMP-SSL: Towards
# Self-Supervised Learning in One Training Epoch") on MMPretrain's runtime:
# CIFAR ResNet-18 (3x3 stem, no max-pool) -> projector 512-4096-4096-1024,
# loss -TCR (eps 0.2) + 200 * invariance; SGD lr 0.3, momentum 0.9, Nesterov,
# wd 1e-4, wrapped by LARS (eta 0.005, clipped; biases and norms excluded from
# adaptation and decay); cosine decay to 0 per iteration, no warm-up;
# batch 100 images x n patches. Dataset configs set the data and n.
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)

model = dict(
    type='EMPSSL',
    # Released code normalises with mean = std = 0.5 (0-255: 127.5).
    data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[127.5] * 3,
                           std=[127.5] * 3, to_rgb=False),
    backbone=dict(type='ResNet_CIFAR', depth=18),
    neck=dict(type='EMPSSLProjector', in_channels=512, hid_channels=4096,
              out_channels=1024),
    head=dict(type='EMPSSLHead',
              tcr_loss=dict(type='TotalCodingRateLoss', eps=0.2),
              invariance_loss=dict(type='PatchInvarianceLoss',
                                   loss_weight=200.)),
    # None = all patches through the encoder at once (paper). An int k bounds
    # encoder activation memory to k patch indices (docs/empssl.md).
    patch_micro_batch=None)

optim_wrapper = dict(
    type='OptimWrapper',
    constructor='LARSExclusionOptimWrapperConstructor',
    optimizer=dict(type='LARSWrappedSGD', lr=0.3, momentum=0.9,
                   weight_decay=1e-4, nesterov=True, eta=0.005, clip=True))

max_epochs = 1
# by_epoch + convert_to_iter_based: T_max is max_epochs x the real loader
# length, whatever the data set (the released code hard-codes 50000 images,
# which is wrong for ImageNet-100; see docs/empssl.md).
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.,
         by_epoch=True, begin=0, end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
custom_hooks = [dict(type='EpochSeedHook')]
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(base_batch_size=100)

# Bag-of-features evaluation (tools/empssl_eval.py): the released evaluation
# averages the pre-features of 128 augmented patches per image (the training
# patch pipeline) and fits the probes on the training split.
bof_cfg = dict(test_patches=128, stage='pre_feature')
