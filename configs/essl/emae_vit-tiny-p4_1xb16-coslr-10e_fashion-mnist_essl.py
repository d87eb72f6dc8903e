# The quickstart: EMAE (tiny ViT, K=4) on the bundled Fashion-MNIST subset,
# read from ESSL storage (tools/quickstart.py writes train.beton from the
# class folders; by hand: tools/dataset_converters/essl_writer.py
# data/fashion-mnist-mini/train data/fashion-mnist-mini/train.beton
# --write-mode raw).
_base_ = '../emae/emae_vit-tiny-p4_1xb16-coslr-10e_fashion-mnist.py'

# Scoped: MMPretrain's tools/train.py builds runners from MMEngine's root
# registry, which finds mmeff's runners only by their scope.
runner_type = 'mmpretrain.ESSLRunner'
img_size = 32
model = dict(data_preprocessor=dict(to_rgb=False))  # ESSL yields RGB
train_dataloader = dict(
    _delete_=True,
    type='ESSLLoader',
    path='data/fashion-mnist-mini/train.beton',
    batch_size=16,  # x 4 parts, see the EMAE config
    num_workers=2,
    # The quickstart's RandomResizedCrop, fused with decoding.
    decoder=dict(type='RandomResizedCrop', scale=img_size,
                 crop_ratio_range=(0.35, 1.0), interpolation='bicubic'),
    batch_transforms=[dict(type='BatchRandomFlip', prob=0.5)])
