"""A condensed set is an ordinary class-folder data set; the configs build."""
import os.path as osp

import pytest

from tests.helpers.tools import REPO

SRE2L = osp.join(REPO, 'configs', 'sre2l')


def test_mmpretrain_custom_dataset_reads_it(recovered):
    from mmpretrain.datasets import CustomDataset
    data = CustomDataset(data_root=recovered, data_prefix='train',
                         pipeline=[dict(type='LoadImageFromFile')])
    assert len(data) == 20 and len(data.CLASSES) == 10
    assert data[0]['img'].shape == (16, 16, 3)


def test_mae_pretrains_on_it(recovered, tmp_path):
    # The plain MMPretrain MAE user config, pointed at the condensed folder
    # and run through tools/train.py's entry point.
    from mmeff.apis import train_main
    rc = train_main([osp.join(REPO, 'tests', 'configs', 'mae_tiny_user.py'),
                     '--work-dir', str(tmp_path), '--cfg-options',
                     f'train_dataloader.dataset.data_root={recovered}',
                     'train_cfg.max_epochs=1'])
    assert rc == 0
    assert osp.isfile(tmp_path / 'epoch_1.pth')


@pytest.mark.parametrize('name,backbone,classes', [
    ('resnet18-cifar-w16_1xb32-squeeze-3e_fashion-mnist.py', 'ResNet_CIFAR', 10),
    ('resnet18-cifar_8xb16-squeeze_cifar10.py', 'ResNet_CIFAR', 10),
    ('resnet18_8xb32-squeeze_in1k.py', 'ResNet', 1000),
])
def test_squeeze_configs_build_batchnorm_resnet18_teachers(name, backbone,
                                                           classes):
    from mmeff.condense import batchnorm_layers, load_teacher
    model, cfg = load_teacher(osp.join(SRE2L, name), None)
    assert cfg.model.backbone.type == backbone
    assert cfg.model.backbone.depth == 18
    assert model.head.num_classes == classes
    assert len(batchnorm_layers(model)) == 20  # stem + 4 stages x 2 x 2 + 3


def test_student_configs_share_network_optimizer_and_epochs():
    from mmeff.engine.config import load_config
    soft = load_config(osp.join(
        SRE2L, 'resnet18-cifar-w16_1xb20-student-relabel-600e_fashion-mnist-ipc10.py'))
    real = load_config(osp.join(
        SRE2L, 'resnet18-cifar-w16_1xb20-student-real-600e_fashion-mnist-ipc10.py'))
    assert soft.model.backbone == real.model.backbone
    assert soft.optim_wrapper == real.optim_wrapper
    assert soft.train_cfg == real.train_cfg
    assert soft.train_dataloader.batch_size == real.train_dataloader.batch_size
    # The released student loss: T = 20, no T^2 (validate/train_FKD.sh).
    assert soft.model.head.loss == dict(type='SoftLabelKLLoss',
                                        temperature=20., t_squared=False)
    assert dict(type='RelabelEpochHook') in soft.custom_hooks
