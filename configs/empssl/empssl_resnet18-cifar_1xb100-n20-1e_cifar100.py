# EMP-SSL, CIFAR-100, 1 epoch (paper, linear probe: 58.5% after 1 epoch,
# 70.1% after 10). Same recipe and patches as CIFAR-10.
_base_ = './empssl_resnet18-cifar_1xb100-n20-1e_cifar10.py'

data_root = 'data/cifar100'
train_dataloader = dict(dataset=dict(type='CIFAR100', data_root=data_root))
bof_dataloaders = dict(
    train=dict(dataset=dict(type='CIFAR100', data_root=data_root)),
    val=dict(dataset=dict(type='CIFAR100', data_root=data_root)))
