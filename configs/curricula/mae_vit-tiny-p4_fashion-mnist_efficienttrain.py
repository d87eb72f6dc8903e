# The quickstart MAE with EfficientTrain++'s bandwidth curriculum (Swin/ResNet
# preset 96/160/224 scaled to 32 px: 12/24/32 -> on the patch grid), exact FFT
# low-frequency cropping, LR by compute fraction. budget_epochs is the compute
# in full-resolution epochs; max_epochs is the stretched epoch count the hook
# requires (it names the number if this does not match).
_base_ = '../quickstart/mae_vit-tiny-p4_fashion-mnist.py'

budget_epochs = 20
param_scheduler = []
train_cfg = dict(max_epochs=50)
custom_hooks = [
    dict(type='EpochSeedHook'),
    dict(type='EfficientTrainHook', budget_epochs=budget_epochs, full_size=32,
         preset='swin', crop_mode='fft', warmup=0.1),
]
