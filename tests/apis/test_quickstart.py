"""The quickstart end to end, reduced: 1 epoch on 10 images per class."""
import glob
import json
import os.path as osp

import torch
from PIL import Image

import mmeff  # noqa: F401  the checkpoint allow-list
from mmeff.apis.quickstart import METRIC_FIELDS
from tests.helpers.tools import PYTHON, REPO, run_tool


def test_quickstart_writes_documented_metrics_and_grid(tmp_path):
    work_dir, data_root = tmp_path / 'work', tmp_path / 'data'
    result = run_tool([PYTHON, 'tools/quickstart.py', '--epochs', '1',
                       '--finetune-epochs', '1',
                       '--train-per-class', '10', '--val-per-class', '5',
                       '--work-dir', str(work_dir), '--data-root', str(data_root)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'metrics:          {work_dir}/metrics.json' in result.stdout

    with open(work_dir / 'metrics.json') as f:
        metrics = json.load(f)
    assert set(metrics) == set(METRIC_FIELDS)
    assert metrics['num_train'] == 100 and metrics['num_val'] == 50
    # ESSL drops the last partial batch while training: 100 // 16 = 6
    assert metrics['epochs'] == 1 and metrics['iterations'] == 6
    assert metrics['train_storage'] == str(data_root / 'train.beton')
    for key in METRIC_FIELDS:
        if key.endswith('top1'):
            assert 0.0 <= metrics[key] <= 100.0
    # Chance is 10%; raw pixels of Fashion-MNIST are far above it.
    assert metrics['raw_pixels_knn_top1'] > 40.0

    grid = Image.open(work_dir / 'reconstructions.png')
    assert grid.size[0] * 8 == grid.size[1] * 3  # 8 rows of 3 square images
    assert_finetuned_by_runners(work_dir, metrics)


def _runner_log(run_dir):
    logs = glob.glob(str(run_dir / '*' / '*.log'))
    assert len(logs) == 1, logs
    with open(logs[0]) as f:
        return f.read()


def assert_finetuned_by_runners(work_dir, metrics):
    """Both fine-tunings: own Runner, same steps, scored as recorded."""
    backbone = work_dir / 'pretrained_backbone.pth'
    steps = {}
    for name, field in (('pretrained', 'finetune_top1'),
                        ('scratch', 'scratch_finetune_top1')):
        run_dir = work_dir / f'finetune_{name}'
        ckpt = torch.load(run_dir / 'epoch_1.pth', map_location='cpu',
                          weights_only=True)
        steps[name] = ckpt['meta']['iter']
        log = _runner_log(run_dir)
        # 100 // 64: one step; the classifier is MMPretrain's.
        assert "type='ImageClassifier'" in log
        assert (f'load backbone. in model from: {backbone}' in log) == \
            (name == 'pretrained')
        assert f'accuracy/top1: {metrics[field]:.4f}' in log
    assert steps == {'pretrained': 1, 'scratch': 1}


def test_readme_documents_every_metric_field():
    with open(osp.join(REPO, 'README.md')) as f:
        readme = f.read()
    missing = [k for k in METRIC_FIELDS if f'`{k}`' not in readme]
    assert not missing, f'README lacks metric fields: {missing}'
