# The quickstart MAE with EfficientTrain++'s bandwidth curriculum (Swin/ResNet
# preset 96/160/224 scaled to 32 px: 12/24/32 -> on the patch grid), exact FFT
# low-frequency cropping, LR by compute fraction (EfficientTrainLR, the same
# plan). budget_epochs is the compute
# in full-resolution epochs; max_epochs is the stretched epoch count the hook
# requires (it names the number if this does not match).
_base_ = '../quickstart/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist.py'

efficienttrain = dict(budget_epochs=20, full_size=32, preset='swin',
                      patch_size=4)
param_scheduler = [dict(type='EfficientTrainLR', convert_to_iter_based=True,
                        warmup=0.1, **efficienttrain)]
train_cfg = dict(max_epochs=50)
custom_hooks = [
    dict(type='EpochSeedHook'),
    dict(type='EfficientTrainHook', budget_epochs=20, full_size=32,
         preset='swin', crop_mode='fft'),
]
