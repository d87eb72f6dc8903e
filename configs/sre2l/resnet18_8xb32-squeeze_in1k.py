# SRe2L squeeze (Yin, Xing, Shen, NeurIPS 2023) on ImageNet-1K: MMPretrain's
# ImageNet ResNet-18 recipe (8x32 batch, SGD lr 0.1, 100 epochs, 224 px), the
# paper's ResNet-18 teacher. Recover with image_size 224 (read from the
# train pipeline) and the paper's defaults; the paper's IPC 50 student
# reaches 46.8% top-1 with this teacher.
_base_ = 'mmpretrain::resnet/resnet18_8xb32_in1k.py'

custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)
