# The palindrome run reading ESSL storage (crop decode in the loader).
_base_ = './mae_tiny_curriculum.py'
runner_type = 'ESSLRunner'
model = dict(data_preprocessor=dict(to_rgb=False))  # ESSL yields RGB
train_dataloader = dict(
    _delete_=True, type='ESSLLoader', path=None,  # set with --cfg-options
    batch_size=8, num_workers=1,
    decoder=dict(type='RandomResizedCrop', scale=16,
                 crop_ratio_range=(0.5, 1.0)),
    batch_transforms=[dict(type='BatchRandomFlip', prob=0.5)])
