# SRe2L squeeze (Yin, Xing, Shen, NeurIPS 2023) on CIFAR-10: MMPretrain's
# published CIFAR ResNet-18 recipe unchanged (3x3 stem, no max-pool, SGD
# lr 0.1 momentum 0.9, 200 epochs, RandomCrop 32 pad 4 + flip); its
# BatchNorm running statistics are what recover matches.
# Recovered PNGs are true RGB: a student or relabel run reading them with
# LoadImageFromFile needs to_rgb=True (relabel sets it for the teacher).
_base_ = 'mmpretrain::resnet/resnet18_8xb16_cifar10.py'

custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)
