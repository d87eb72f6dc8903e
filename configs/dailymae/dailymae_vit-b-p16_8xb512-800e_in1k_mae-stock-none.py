# MAE, MMPretrain's own image-folder loader, no curriculum.
# docs/dailymae.md lists every combination; the alternatives are in
# _base_/vit-b-p16_8xb512-800e_in1k.py.
_base_ = './_base_/vit-b-p16_8xb512-800e_in1k.py'

# LoadImageFromFile yields BGR (ESSL yields RGB).
train_dataloader = {{_base_.stock_loader}}
data_preprocessor = dict(to_rgb=True)
