"""Config loading: inherited mmpretrain:: configs train as-is."""
import os.path as osp

import pytest

from mmeff.engine.config import ConfigError, drop_amp_without_accelerator, load_config
from tests.helpers.tools import REPO

QUICKSTART = osp.join(
    REPO, 'configs/quickstart/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist.py')


def test_inherited_collate_fn_loses_scope():
    cfg = load_config(QUICKSTART)
    assert cfg.train_dataloader.collate_fn == dict(type='default_collate')


def test_cfg_options_are_applied():
    cfg = load_config(QUICKSTART, {'train_cfg.max_epochs': 2})
    assert cfg.train_cfg.max_epochs == 2


def test_missing_config_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match='not found'):
        load_config(str(tmp_path / 'absent.py'))


def test_broken_config_names_the_file(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('model = dict(\n')
    with pytest.raises(ConfigError, match=str(bad)):
        load_config(str(bad))


def test_amp_wrapper_becomes_fp32_on_cpu():
    cfg = load_config(QUICKSTART)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert drop_amp_without_accelerator(cfg)
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
