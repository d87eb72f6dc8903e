"""Every scalar mmeff's hooks compute reaches MMEngine's visualizer backends:
``scalars.json`` (LocalVisBackend) and TensorBoard event files."""
import glob
import json
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import mmeff  # noqa: F401
from tests.engine.test_feature_probe_hook import make_runner
from tests.helpers.tools import REPO

BACKENDS = dict(type='Visualizer', vis_backends=[
    dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])


def read_scalars_json(work_dir):
    path, = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        return [json.loads(line) for line in f]


def read_tensorboard(work_dir, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    folder, = glob.glob(osp.join(work_dir, '*', 'vis_data'))
    events = EventAccumulator(folder)
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def test_probe_proxy_reaches_scalars_json_and_tensorboard(tiny_image_folder,
                                                          tmp_path):
    runner = make_runner(tiny_image_folder, tmp_path, visualizer=BACKENDS,
                         interval_iters=4)
    runner.train_loop._max_iters = 10
    runner.train()
    with open(tmp_path / 'probe_curve.json') as f:
        curve = [(p['iterations'], p['knn_top1']) for p in json.load(f)]
    assert [step for step, _ in curve] == [4, 8, 10]

    logged = [(r['step'], r['probe/knn_top1'])
              for r in read_scalars_json(tmp_path) if 'probe/knn_top1' in r]
    board = read_tensorboard(tmp_path, 'probe/knn_top1')
    for points in (logged, board):
        assert [step for step, _ in points] == [4, 8, 10]
        assert [v for _, v in points] == pytest.approx(
            [v for _, v in curve], abs=0.01)


def test_curriculum_state_reaches_scalars_json_and_tensorboard(
        tiny_image_folder, tmp_path):
    """The palindrome 16 -> 8 -> 16 px, two epochs each, five steps each."""
    cfg = Config.fromfile(
        osp.join(REPO, 'tests/configs/mae_tiny_curriculum.py'))
    cfg.train_dataloader.dataset.data_root = tiny_image_folder
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.custom_hooks = cfg.custom_hooks[:2]  # the recorder hook is not needed
    cfg.default_hooks.checkpoint.interval = 100
    cfg.work_dir, cfg.visualizer = str(tmp_path), BACKENDS
    Runner.from_cfg(cfg).train()
    expected = [16] * 10 + [8] * 10 + [16] * 10
    logged = [r['resolution'] for r in read_scalars_json(tmp_path)
              if 'resolution' in r]
    assert logged == expected
    assert [v for _, v in read_tensorboard(tmp_path, 'resolution')] == expected


def test_efficienttrain_state_reaches_scalars_json_and_tensorboard(
        tiny_image_folder, tmp_path):
    """Bandwidth 8 -> 12 -> 16 px and the RandAugment magnitude, per step."""
    cfg = Config.fromfile(
        osp.join(REPO, 'tests/configs/mae_tiny_efficienttrain.py'))
    cfg.train_dataloader.dataset.data_root = tiny_image_folder
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.custom_hooks = cfg.custom_hooks[:2]
    cfg.default_hooks.checkpoint.interval = 100
    cfg.work_dir, cfg.visualizer = str(tmp_path), BACKENDS
    Runner.from_cfg(cfg).train()
    records = [r for r in read_scalars_json(tmp_path) if 'bandwidth' in r]
    assert len(records) == 25  # 5 stretched epochs of 5 steps
    for key in ('bandwidth', 'randaug_magnitude', 'compute_fraction'):
        board = [v for _, v in read_tensorboard(tmp_path, key)]
        assert board == pytest.approx([r[key] for r in records])
    assert [r['bandwidth'] for r in records] == [8] * 10 + [12] * 10 + [16] * 5
    magnitudes = [r['randaug_magnitude'] for r in records]
    assert magnitudes == sorted(magnitudes) and magnitudes[0] == 0
    fractions = [r['compute_fraction'] for r in records]
    assert fractions == sorted(fractions) and 0.9 < fractions[-1] <= 1.0
