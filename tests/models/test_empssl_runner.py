"""EMP-SSL trains through a real MMEngine Runner with the bundled config."""
import json
import math
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

import mmeff  # noqa: F401
from mmeff.apis.train import build_runner
from mmeff.engine.config import load_config
from mmeff.evaluation import probe_bag_of_features
from tests.helpers.tools import PYTHON, REPO, run_tool

CONFIG = osp.join(
    REPO, 'configs/empssl/empssl_resnet18-cifar-w16_1xb50-n16-1e_fashion-mnist.py')


def small_cfg(data_root, work_dir):
    """The bundled config at test size: 4 images x 4 patches, width 4."""
    cfg = load_config(CONFIG, {
        'model.num_patches': 4, 'model.patch_micro_batch': 2,
        'model.backbone.base_channels': 4, 'model.backbone.stem_channels': 4,
        'model.neck.in_channels': 32, 'model.neck.hid_channels': 32,
        'model.neck.out_channels': 16,
        'train_dataloader.batch_size': 4, 'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.data_root': data_root,
        'train_dataloader.dataset.pipeline.2.num_patches': 4,
        'default_hooks.logger.interval': 1})
    for split in ('train', 'val'):
        loader = cfg.bof_dataloaders[split]
        loader.update(batch_size=8, num_workers=0)
        loader.dataset.data_root = data_root
        loader.dataset.pipeline[2]['num_patches'] = 3
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    return cfg


@pytest.fixture(scope='module')
def trained(tiny_image_folder, tmp_path_factory):
    """One epoch of the bundled config at test size, run once per module."""
    cfg = small_cfg(tiny_image_folder, str(tmp_path_factory.mktemp('empssl')))
    runner = build_runner(cfg, loaders=('train_dataloader',))
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    return cfg, runner, before


def test_runner_trains_one_epoch_and_probes_bag_of_features(trained):
    cfg, runner, before = trained

    assert runner.iter == 10  # 40 images / 4 per batch, one epoch
    hub = runner.message_hub
    for key in ('train/loss', 'train/loss_tcr', 'train/loss_inv'):
        assert torch.isfinite(torch.tensor(hub.get_scalar(key).current()))
    # the release's one-epoch schedule: cosine per iteration sized for two
    # epochs (20 iterations), stopped after the first
    lrs = hub.get_scalar('train/lr').data[0]
    assert lrs == pytest.approx(
        [0.15 * (1 + math.cos(math.pi * i / 20)) for i in range(10)])
    after = runner.model.state_dict()
    assert not torch.equal(before['backbone.conv1.weight'],
                           after['backbone.conv1.weight'])
    # memory bound active: 4 patches / 2 per micro-batch -> 2 BN updates/step
    assert after['backbone.bn1.num_batches_tracked'].item() == 20
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_1.pth'))

    loaders = {k: Runner.build_dataloader(v)
               for k, v in cfg.bof_dataloaders.items()}
    result = probe_bag_of_features(runner.model, loaders['train'],
                                   loaders['val'], num_classes=10,
                                   protocols=('reference', 'fast'))
    assert result['num_train'] == 40 and result['num_val'] == 20
    assert result['feature_dim'] == 32
    reference, fast = result['linear']['reference'], result['linear']['fast']
    assert 0.0 <= reference['last_top1'] <= reference['best_top1'] <= 100.0
    assert set(fast) == {'last_top1'} and 0.0 <= fast['last_top1'] <= 100.0


def test_eval_tool_reports_probe_and_knn_on_a_checkpoint(trained, tmp_path):
    cfg = trained[0]
    cfg_path = str(tmp_path / 'empssl_small.py')
    cfg.dump(cfg_path)
    ckpt = osp.join(cfg.work_dir, 'epoch_1.pth')
    out = tmp_path / 'bof.json'
    result = run_tool([PYTHON, 'tools/empssl_eval.py', cfg_path, ckpt,
                       '--test-patches', '2', '--out', str(out)])
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(out.read_text())
    assert metrics['test_patches'] == 2 and metrics['stage'] == 'pre_feature'
    assert metrics['num_train'] == 40 and metrics['num_val'] == 20
    assert metrics['protocol'] == 'reference'  # the config's bof_cfg
    assert 0.0 <= metrics['linear_top1'] <= metrics['linear_best_top1'] <= 100
    assert 0.0 <= metrics['knn_top1'] <= 100.0

    fast = run_tool([PYTHON, 'tools/empssl_eval.py', cfg_path, ckpt,
                     '--test-patches', '2', '--protocol', 'fast'])
    assert fast.returncode == 0, fast.stderr[-3000:]
    fast_metrics = json.loads(fast.stdout[fast.stdout.index('{'):])
    assert fast_metrics['protocol'] == 'fast'
    assert 'linear_best_top1' not in fast_metrics
    assert 0.0 <= fast_metrics['linear_top1'] <= 100.0

    again = run_tool([PYTHON, 'tools/empssl_eval.py', cfg_path, ckpt,
                      '--out', str(out)])
    assert again.returncode == 2
    assert again.stderr.strip().splitlines()[-1] == (
        f'empssl_eval: error: {out} already exists; pass --overwrite to '
        'replace it, or choose another output')
    assert json.loads(out.read_text()) == metrics

    missing = run_tool([PYTHON, 'tools/empssl_eval.py', cfg_path,
                        str(tmp_path / 'nope.pth')])
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1] == \
        f'empssl_eval: error: checkpoint not found: {tmp_path / "nope.pth"}'
