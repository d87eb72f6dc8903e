# MAE ViT-B/16, 800 epochs on ImageNet-1K (He et al., CVPR 2022), reading
# ESSL storage as DailyMAE does (Wu et al., 2024): the upstream MMPretrain
# recipe unchanged except for the data path.
# Storage (DailyMAE's setting: longer side <= 500, JPEG quality 90):
#   python tools/dataset_converters/essl_writer.py data/imagenet/train \
#       data/imagenet/train_500_q90.beton --max-resolution 500 \
#       --jpeg-quality 90 --write-mode jpg --workers 32
# Train on 8 GPUs:
#   bash tools/dist_train.sh \
#       configs/essl/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k_essl.py 8
_base_ = 'mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'

custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)
# Scoped: MMPretrain's tools/train.py builds runners from MMEngine's root
# registry, which finds mmeff's runners only by their scope.
runner_type = 'mmpretrain.ESSLRunner'

# ESSL batches are RGB; LoadImageFromFile's are BGR (hence upstream to_rgb).
# Upstream sets the preprocessor at top level; the Runner hands it to MAE.
data_preprocessor = dict(to_rgb=False)

train_dataloader = dict(
    _delete_=True,
    type='ESSLLoader',
    path='data/imagenet/train_500_q90.beton',
    batch_size=512,
    num_workers=8,
    # Upstream pipeline: RandomResizedCrop(224, crop_ratio_range=(0.2, 1.0),
    # bicubic) + RandomFlip(0.5), here fused with decoding / on the batch.
    decoder=dict(type='RandomResizedCrop', scale=224,
                 crop_ratio_range=(0.2, 1.0), interpolation='bicubic'),
    batch_transforms=[dict(type='BatchRandomFlip', prob=0.5)])
