# The quickstart MAE (tiny ViT on the bundled Fashion-MNIST subset) reading
# ESSL storage instead of PNG files. Write the storage once (28x28 images:
# raw records cost 2.3 KB each and no decoding):
#   python tools/dataset_converters/essl_writer.py \
#       data/fashion-mnist-mini/train data/fashion-mnist-mini/train.beton \
#       --write-mode raw
# then train as usual:
#   python tools/train.py \
#       configs/essl/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist_essl.py
_base_ = '../quickstart/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist.py'

# ESSLRunner builds `type='ESSLLoader'` dataloaders (MMEngine's Runner only
# builds torch DataLoaders); every loop, hook and resume path is stock.
# Scoped: MMPretrain's tools/train.py builds runners from MMEngine's root
# registry, which finds mmeff's runners only by their scope.
runner_type = 'mmpretrain.ESSLRunner'

img_size = 32
# The loader yields RGB (LoadImageFromFile yields BGR, hence the base's
# to_rgb=True).
model = dict(data_preprocessor=dict(to_rgb=False))

train_dataloader = dict(
    _delete_=True,
    type='ESSLLoader',
    path='data/fashion-mnist-mini/train.beton',
    batch_size=64,
    num_workers=2,
    # The quickstart's RandomResizedCrop, fused with decoding.
    decoder=dict(type='RandomResizedCrop', scale=img_size,
                 crop_ratio_range=(0.35, 1.0), interpolation='bicubic'),
    batch_transforms=[dict(type='BatchRandomFlip', prob=0.5)])
