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


USER_CONFIG = '''
_base_ = '{base}'
{runner}
model = dict(data_preprocessor=dict(to_rgb={to_rgb}))
train_dataloader = dict(
    _delete_=True, type='ESSLLoader', path='train.beton', batch_size=8,
    decoder=dict(type='RandomResizedCrop', scale=32))
'''


def _error_lines(result):
    """stderr's error lines (MMEngine's deprecation warnings aside); there
    is no traceback."""
    assert 'Traceback' not in result.stderr, result.stderr[-3000:]
    return [line for line in result.stderr.splitlines() if 'error:' in line]


def _train_user_config(repo_root, tmp_path, runner, to_rgb):
    from tests.helpers.tools import PYTHON, run_tool
    base = osp.join(repo_root,
                    'configs/quickstart/mae_vit-tiny-p4_1xb64-coslr-30e_'
                    'fashion-mnist.py')
    config = tmp_path / 'user.py'
    config.write_text(USER_CONFIG.format(base=base, runner=runner,
                                         to_rgb=to_rgb))
    result = run_tool([PYTHON, 'tools/train.py', str(config), '--work-dir',
                       str(tmp_path / 'work')])
    return config, result


def test_essl_loader_without_essl_runner_is_a_one_line_error(repo_root,
                                                             tmp_path):
    config, result = _train_user_config(repo_root, tmp_path, '', False)
    assert result.returncode == 2
    assert _error_lines(result) == [
        f"train: error: {config}: train_dataloader has type='ESSLLoader', "
        "which only ESSLRunner builds; add runner_type = "
        "'mmpretrain.ESSLRunner'"]
    assert not (tmp_path / 'work').exists()  # refused before anything ran


def test_to_rgb_that_would_swap_essl_channels_is_refused(repo_root,
                                                         tmp_path):
    # The base config reads BGR PNGs, hence its to_rgb=True.
    config, result = _train_user_config(
        repo_root, tmp_path, "runner_type = 'mmpretrain.ESSLRunner'", True)
    assert result.returncode == 2
    assert _error_lines(result) == [
        f'train: error: {config}: data_preprocessor.to_rgb=True would swap '
        'the channels of the RGB batches ESSLLoader delivers '
        '(train_dataloader); set to_rgb=False (model.data_preprocessor, or '
        'the top-level data_preprocessor)']


def test_essl_runner_checks_to_rgb_under_upstream_tools_too(repo_root):
    import pytest
    from mmengine.config import Config

    from mmeff.data.essl import ESSLRunner
    from mmeff.engine.config import ConfigError
    cfg = Config(dict(
        runner_type='mmpretrain.ESSLRunner', model=dict(type='MAE'),
        data_preprocessor=dict(to_rgb=True),
        train_dataloader=dict(type='ESSLLoader', path='x.beton')))
    with pytest.raises(ConfigError, match='to_rgb=True would swap'):
        ESSLRunner.from_cfg(cfg)
    # The model's own preprocessor wins over the top-level one, as in
    # MMEngine's Runner.
    cfg.model.data_preprocessor = dict(to_rgb=False)
    from mmeff.data.essl.runner import check_essl_config
    check_essl_config(cfg)


def _without_decoder(code):
    """Run ``code`` where the compiled ESSL decoder cannot be imported, as in
    a wheel built with MMEFF_WITHOUT_ESSL=1."""
    from tests.helpers.tools import PYTHON, run_tool
    return run_tool([PYTHON, '-c', "import sys; sys.modules["
                     "'mmeff.data.essl._essl_decode'] = None; " + code])


def test_missing_decoder_is_one_line_naming_the_fix(repo_root, tmp_path):
    from mmeff.data.essl._lib import MISSING_DECODER
    assert 'apt-get install' in MISSING_DECODER
    assert 'pip install' in MISSING_DECODER
    result = _without_decoder('import mmeff.data.essl._lib')
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == \
        f'ImportError: {MISSING_DECODER}'
    config = osp.join(repo_root, CONFIG)
    result = _without_decoder(
        'import mmeff; from mmeff.apis import train_main; sys.exit(train_main('
        f'[{config!r}, "--work-dir", {str(tmp_path / "work")!r}]))')
    assert result.returncode == 2
    assert _error_lines(result) == [
        f'train: error: {config}: train_dataloader: {MISSING_DECODER}']
