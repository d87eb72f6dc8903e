# MAE, MMPretrain's own image-folder loader, no curriculum.
# docs/dailymae.md lists every combination; the alternatives are in
# _base_/vit-tiny-p4_1xb64-10e_fashion-mnist.py.
_base_ = './_base_/vit-tiny-p4_1xb64-10e_fashion-mnist.py'

# LoadImageFromFile yields BGR (ESSL yields RGB).
train_dataloader = {{_base_.stock_loader}}
model = dict(data_preprocessor=dict(to_rgb=True))
