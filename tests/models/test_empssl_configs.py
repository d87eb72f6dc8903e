"""The EMP-SSL configs: the released recipe (tsb0601/EMP-SSL), consistent
patch counts, real schedule."""
import glob
import os.path as osp

import pytest
import torch
from mmpretrain.registry import MODELS, TRANSFORMS

import mmeff  # noqa: F401
from mmeff.engine.config import load_config
from tests.helpers.tools import REPO

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs/empssl/empssl_*.py')))


def test_every_data_set_has_a_config():
    names = ' '.join(osp.basename(c) for c in CONFIGS)
    for data in ('cifar10', 'cifar100', 'tiny-imagenet', 'in100',
                 'fashion-mnist'):
        assert f'_{data}.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_with_paper_recipe(path):
    cfg = load_config(path)
    optim = cfg.optim_wrapper
    assert optim.constructor == 'LARSExclusionOptimWrapperConstructor'
    assert (optim.optimizer.type, optim.optimizer.lr, optim.optimizer.momentum,
            optim.optimizer.weight_decay, optim.optimizer.eta,
            optim.optimizer.clip) == ('LARSWrappedSGD', 0.3, 0.9, 1e-4, 0.005,
                                      True)
    (sched,) = cfg.param_scheduler
    # Cosine length follows the real loader length (ImageNet-100 fix).
    assert sched.type == 'CosineAnnealingLR' and sched.convert_to_iter_based
    # The release's one-epoch figure: `main.py --epoch 2` read after epoch 1.
    assert (sched.by_epoch, sched.begin, sched.T_max, sched.end,
            sched.eta_min) == (True, 0, 2, 2, 0.)
    assert cfg.train_cfg.max_epochs == 1
    assert cfg.model.head.tcr_loss.eps == 0.2
    assert cfg.model.head.invariance_loss.loss_weight == 200.0
    patch = [t for t in cfg.train_dataloader.dataset.pipeline
             if t['type'] == 'MultiPatch'][0]
    assert patch['num_patches'] == cfg.model.num_patches
    assert patch['scale'] == 0.25
    TRANSFORMS.build(patch)
    for split in ('train', 'val'):
        bof = [t for t in cfg.bof_dataloaders[split].dataset.pipeline
               if t['type'] == 'MultiPatch'][0]
        assert bof['num_patches'] == cfg.bof_cfg.test_patches
    # torchvision's resnet18 default (released model/model.py).
    assert cfg.model.backbone.zero_init_residual is False
    assert cfg.model.backbone.type == (
        'ResNet' if ('in100' in path or 'tiny-imagenet' in path)
        else 'ResNet_CIFAR')
    assert cfg.bof_cfg.stage == 'pre_feature'
    assert cfg.bof_cfg.protocol == 'reference'
    if 'fashion-mnist' not in path:
        assert cfg.train_dataloader.batch_size == 100
        assert cfg.model.num_patches == 20  # released README's commands
        assert cfg.bof_cfg.test_patches == 128  # released evaluate.py
        model = MODELS.build(cfg.model)
        assert model.neck.projection[-1].out_features == 1024


def test_residual_branches_start_as_torchvision_initialises_them():
    # zero_init_residual=False: the last BN of each block starts at weight 1,
    # not 0 (MMPretrain's ResNet default would zero it).
    cfg = load_config(CONFIGS[0], {'model.backbone.base_channels': 4,
                                   'model.backbone.stem_channels': 4,
                                   'model.neck.in_channels': 32})
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert model.backbone.zero_init_residual is False
    for layer in (model.backbone.layer1, model.backbone.layer4):
        assert torch.equal(layer[-1].norm2.weight,
                           torch.ones_like(layer[-1].norm2.weight))
