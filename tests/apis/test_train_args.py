"""tools/train.py and tools/test.py read MMPretrain 1.2's flags with its
semantics and precedence: the flags, then the dataloader defaults, then
--cfg-options, which win."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmeff.apis.train import (
    merge_test_args,
    merge_train_args,
    parse_test_args,
    parse_train_args,
)
from mmeff.engine.config import ConfigError
from tests.helpers.tools import REPO

USER = osp.join(REPO, 'tests/configs/mae_tiny_user.py')
SQUEEZE = osp.join(REPO,
                   'configs/sre2l/resnet18-cifar-w16_1xb32-squeeze-3e_fashion-mnist.py')


def merged_train_cfg(*argv, config=USER):
    args = parse_train_args([config, *argv])
    return merge_train_args(Config.fromfile(config), args)


def merged_test_cfg(*argv, config=SQUEEZE):
    args = parse_test_args([config, 'ckpt.pth', *argv])
    return merge_test_args(Config.fromfile(config), args)


def test_cfg_options_are_applied_after_the_flags():
    cfg = merged_train_cfg('--work-dir', 'a', '--no-pin-memory', '--amp',
                    '--cfg-options', 'work_dir=b',
                    'train_dataloader.pin_memory=True',
                    'optim_wrapper.type=OptimWrapper')
    assert cfg.work_dir == 'b'
    assert cfg.train_dataloader.pin_memory is True
    assert cfg.optim_wrapper.type == 'OptimWrapper'


def test_train_flags_as_mmpretrain():
    cfg = merged_train_cfg('--amp', '--resume', 'x.pth', '--no-validate')
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.resume is True and cfg.load_from == 'x.pth'
    assert cfg.val_dataloader is None and cfg.val_cfg is None
    assert cfg.work_dir == osp.join('./work_dirs', 'mae_tiny_user')
    auto = merged_train_cfg('--resume')
    assert auto.resume is True and auto.load_from is None


def test_dataloader_defaults_fill_only_what_the_config_leaves_out():
    cfg = merged_train_cfg(config=SQUEEZE)
    loader = cfg.train_dataloader
    assert loader.pin_memory is True and loader.persistent_workers is True
    assert loader.collate_fn == dict(type='default_collate')
    # mmeff's one change: no persistent_workers default without workers.
    user = merged_train_cfg().train_dataloader
    assert user.pin_memory is True and 'persistent_workers' not in user
    off = merged_train_cfg('--no-persistent-workers', config=SQUEEZE)
    assert off.train_dataloader.persistent_workers is False


def test_test_flags_as_mmpretrain():
    cfg = merged_test_cfg('--amp', '--show-dir', 'vis', '--interval', '3',
                   '--wait-time', '0.5', '--no-pin-memory')
    assert cfg.load_from == 'ckpt.pth' and cfg.test_cfg.fp16 is True
    vis = cfg.default_hooks.visualization
    assert (vis.enable, vis.show, vis.out_dir, vis.interval, vis.wait_time) \
        == (True, False, 'vis', 3, 0.5)
    assert cfg.test_dataloader.pin_memory is False


def test_tta_without_tta_model_falls_back_to_flip_tta():
    plain = merged_test_cfg()
    cfg = merged_test_cfg('--tta')
    assert cfg.model.type == 'mmpretrain.AverageClsScoreTTA'
    assert cfg.model.module == plain.model
    *same, last = cfg.test_dataloader.dataset.pipeline
    assert same == plain.test_dataloader.dataset.pipeline[:-1]
    assert last.type == 'TestTimeAug'
    assert last.transforms == [
        [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
        [plain.test_dataloader.dataset.pipeline[-1]]]


@pytest.mark.parametrize('argv, message', [
    (['--out-item', 'pred'], '--out-item needs --out'),
    (['--out', 'preds.json'], 'name a .pkl file'),
])
def test_bad_test_flags_are_config_errors(argv, message):
    with pytest.raises(ConfigError, match=message):
        merged_test_cfg(*argv)


def test_show_needs_a_visualization_hook(tmp_path):
    """A config with a test loop but without a VisualizationHook."""
    config = tmp_path / 'no_visualization.py'
    config.write_text(f'_base_ = {SQUEEZE!r}\n'
                      'default_hooks = dict(_delete_=True, '
                      "logger=dict(type='LoggerHook'))\n")
    with pytest.raises(ConfigError, match='VisualizationHook'):
        merged_test_cfg('--show', config=str(config))
