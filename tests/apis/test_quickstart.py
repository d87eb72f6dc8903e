"""The quickstart end to end, reduced: 6 pretraining iterations on 200
unlabelled images, 10 labelled and 5 held-out images per class."""
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
    result = run_tool([PYTHON, 'tools/quickstart.py', '--iters', '6',
                       '--finetune-epochs', '1', '--num-unlabelled', '200',
                       '--train-per-class', '10', '--val-per-class', '5',
                       '--work-dir', str(work_dir), '--data-root', str(data_root)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'metrics:          {work_dir}/metrics.json' in result.stdout

    with open(work_dir / 'metrics.json') as f:
        metrics = json.load(f)
    assert set(metrics) == set(METRIC_FIELDS)
    assert metrics['num_unlabelled'] == 200
    assert metrics['num_train'] == 100 and metrics['num_val'] == 50
    assert metrics['iterations'] == 6
    assert metrics['train_storage'] == str(data_root / 'unlabelled.beton')
    # Pretraining read no labels: the pool is one folder, not the classes.
    assert sorted(p.name for p in (data_root / 'unlabelled').iterdir()) == \
        ['images']
    assert len(list((data_root / 'unlabelled' / 'images').iterdir())) == 200
    assert_prints_the_table(result.stdout, metrics)
    for key in METRIC_FIELDS:
        if key.endswith('top1'):
            assert 0.0 <= metrics[key] <= 100.0
    # Chance is 10%; raw pixels of Fashion-MNIST are far above it.
    assert metrics['raw_pixels_knn_top1'] > 40.0

    grid = Image.open(work_dir / 'reconstructions.png')
    assert grid.size[0] * 8 == grid.size[1] * 3  # 8 rows of 3 square images
    assert_finetuned_by_runners(work_dir, metrics)


def assert_prints_the_table(stdout, metrics):
    assert ('200 unlabelled images (pretraining), 100 labelled (fitting), '
            'top-1 on 50 held-out test images') in stdout
    row = [line for line in stdout.splitlines()
           if line.startswith('ViT pretrained with EMAE, fine-tuned')]
    assert len(row) == 1 and f"{metrics['finetune_top1']:.1f}" in row[0]


def _runner_log(run_dir):
    logs = glob.glob(str(run_dir / '*' / '*.log'))
    assert len(logs) == 1, logs
    with open(logs[0]) as f:
        return f.read()


def assert_finetuned_by_runners(work_dir, metrics):
    """Both fine-tunings: own Runner, same steps, scored as recorded; the
    supervised run: from scratch, the epochs its budget allowed."""
    backbone = work_dir / 'pretrained_backbone.pth'
    steps = {}
    epochs = metrics['supervised_epochs']
    assert epochs >= 1
    for name, field, last in (
            ('finetune_pretrained', 'finetune_top1', 1),
            ('finetune_scratch', 'scratch_finetune_top1', 1),
            ('supervised', 'supervised_top1', epochs)):
        run_dir = work_dir / name
        ckpt = torch.load(run_dir / f'epoch_{last}.pth', map_location='cpu',
                          weights_only=True)
        steps[name] = ckpt['meta']['iter']
        log = _runner_log(run_dir)
        # 100 // 64: one step; the classifier is MMPretrain's.
        assert "type='ImageClassifier'" in log
        assert (f'load backbone. in model from: {backbone}' in log) == \
            (name == 'finetune_pretrained')
        assert f'accuracy/top1: {metrics[field]:.4f}' in log
    assert steps == {'finetune_pretrained': 1, 'finetune_scratch': 1,
                     'supervised': epochs}


def test_readme_documents_every_metric_field():
    with open(osp.join(REPO, 'README.md')) as f:
        readme = f.read()
    missing = [k for k in METRIC_FIELDS if f'`{k}`' not in readme]
    assert not missing, f'README lacks metric fields: {missing}'
