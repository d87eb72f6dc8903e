# The quickstart: EMAE (tiny ViT, K=4) pretrained without labels on all
# 60,000 Fashion-MNIST training images, read from ESSL storage
# (tools/quickstart.py writes data/fashion-mnist/unlabelled.beton).
_base_ = '../essl/emae_vit-tiny-p4_1xb16-coslr-10e_fashion-mnist_essl.py'

data_root = 'data/fashion-mnist'
train_dataloader = dict(path=f'{data_root}/unlabelled.beton')

max_iters = 750
warmup_iters = 75
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters,
         by_epoch=False, begin=warmup_iters, end=max_iters),
]
log_processor = dict(by_epoch=False)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1))
probe_dataloaders = dict(
    train=dict(dataset=dict(data_root=data_root)),
    val=dict(dataset=dict(data_root=data_root)))
