"""A real MMEngine Runner trains MMPretrain's MAE on ESSL storage; resume."""
import os.path as osp

import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmeff.apis.train import build_runner
from mmeff.engine.config import load_config

CONFIG = 'configs/essl/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist_essl.py'


@HOOKS.register_module()
class RecordBatchesHook(Hook):
    """Keeps the epoch and labels of every batch the loop receives."""

    def __init__(self):
        self.seen = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        assert data_batch['inputs'].dtype == torch.uint8
        assert torch.isfinite(outputs['loss'])
        self.seen.append((runner.epoch, [int(d.gt_label)
                                         for d in data_batch['data_samples']]))


def _cfg(repo_root, beton, work_dir, max_epochs, resume=False):
    cfg = load_config(osp.join(repo_root, CONFIG))
    cfg.train_dataloader.update(path=beton, batch_size=8, num_workers=1)
    cfg.train_cfg.max_epochs = max_epochs
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
    cfg.work_dir = str(work_dir)
    cfg.resume = resume
    cfg.custom_hooks = [dict(type='RecordBatchesHook')]
    cfg.default_hooks.logger.interval = 1
    cfg.pop('probe_dataloaders', None)
    cfg.launcher = 'none'
    return cfg


def _recorder(runner):
    return next(h for h in runner.hooks if isinstance(h, RecordBatchesHook))


def test_runner_trains_mae_and_resumes_with_the_same_order(
        repo_root, fmnist_beton, tmp_path):
    runner = build_runner(_cfg(repo_root, fmnist_beton, tmp_path / 'a', 2),
                          loaders=())
    assert type(runner).__name__ == 'ESSLRunner'
    runner.train()
    assert runner.iter == 2 * 5  # 40 images, batch 8
    seen = _recorder(runner).seen
    assert [e for e, _ in seen] == [0] * 5 + [1] * 5
    # Each epoch sees every image once, in an order fixed by (seed, epoch).
    assert sorted(sum((lbl for _, lbl in seen[:5]), [])) == [
        c for c in range(10) for _ in range(4)]
    order_epoch1 = [lbl for e, lbl in seen if e == 1]

    # A fresh run up to epoch 3 resumed from epoch 2 ...
    resumed = build_runner(_cfg(repo_root, fmnist_beton, tmp_path / 'a', 3,
                                resume=True), loaders=())
    resumed.train()
    assert resumed.iter == 3 * 5
    assert [e for e, _ in _recorder(resumed).seen] == [2] * 5
    # ... draws epoch 2's order, which a run that never stopped would too.
    full = build_runner(_cfg(repo_root, fmnist_beton, tmp_path / 'b', 3),
                        loaders=())
    full.train()
    full_seen = _recorder(full).seen
    assert [lbl for e, lbl in full_seen if e == 1] == order_epoch1
    assert [lbl for e, lbl in full_seen if e == 2] == [
        lbl for _, lbl in _recorder(resumed).seen]


def test_imagenet_mae_config_inherits_upstream_and_uses_essl(repo_root):
    import pytest

    from mmeff.data.essl import ESSLFileError, ESSLRunner
    cfg = load_config(osp.join(
        repo_root,
        'configs/essl/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k_essl.py'))
    assert cfg.runner_type == 'mmpretrain.ESSLRunner'
    assert cfg.model.type == 'MAE' and cfg.train_cfg.max_epochs == 800
    assert cfg.data_preprocessor.to_rgb is False  # the loader yields RGB
    loader = cfg.train_dataloader
    assert loader.type == 'ESSLLoader' and 'dataset' not in loader
    assert loader.decoder.crop_ratio_range == (0.2, 1.0)
    # Without the converted file the Runner's loader build names it.
    with pytest.raises(ESSLFileError, match='train_500_q90.beton'):
        ESSLRunner.build_dataloader(loader.to_dict(), seed=0)
