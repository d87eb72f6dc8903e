"""FeatureProbeHook: proxy points against train time, and the time budget."""
import json
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner

import mmeff  # noqa: F401
from tests.helpers.tools import REPO


def probe_loader(root, split):
    return dict(batch_size=20, num_workers=0, collate_fn=dict(type='default_collate'),
                sampler=dict(type='DefaultSampler', shuffle=False),
                dataset=dict(type='CustomDataset', data_root=root, data_prefix=split,
                             pipeline=[dict(type='LoadImageFromFile'),
                                       dict(type='Resize', scale=16),
                                       dict(type='PackInputs')]))


def make_runner(root, work_dir, visualizer=None, **hook_kwargs):
    cfg = Config.fromfile(osp.join(REPO, 'tests/configs/mae_tiny_user.py'))
    if visualizer is not None:
        cfg.visualizer = visualizer
    cfg.train_dataloader.dataset.data_root = root
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=200)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000)
    cfg.work_dir = str(work_dir)
    cfg.custom_hooks = [dict(type='FeatureProbeHook',
                             train_dataloader=probe_loader(root, 'train'),
                             val_dataloader=probe_loader(root, 'val'),
                             **hook_kwargs)]
    return Runner.from_cfg(cfg)


def test_probe_curve_is_logged_and_budget_stops_training(tiny_image_folder, tmp_path):
    runner = make_runner(tiny_image_folder, tmp_path, interval_seconds=0.05,
                         time_budget=0.6)
    runner.train()
    assert runner.iter < 200  # stopped by the budget, not by max_iters
    with open(tmp_path / 'probe_curve.json') as f:
        curve = json.load(f)
    assert len(curve) >= 2
    times = [p['train_seconds'] for p in curve]
    assert times == sorted(times) and times[-1] >= 0.6
    assert curve[-1]['iterations'] == runner.iter
    assert curve[-1]['images_seen'] == 8 * runner.iter
    assert all(0 <= p['knn_top1'] <= 100 for p in curve)
    logged = runner.message_hub.get_scalar('probe/knn_top1').current()
    assert logged == curve[-1]['knn_top1'] or abs(logged - curve[-1]['knn_top1']) < 0.01


def test_probe_every_n_iterations(tiny_image_folder, tmp_path):
    runner = make_runner(tiny_image_folder, tmp_path, interval_iters=4)
    runner.train_loop._max_iters = 10
    runner.train()
    with open(tmp_path / 'probe_curve.json') as f:
        curve = json.load(f)
    assert [p['iterations'] for p in curve] == [4, 8, 10]
    assert [p['images_seen'] for p in curve] == [32, 64, 80]


def test_linear_probe_points_equal_a_probe_of_the_same_features(
        tiny_image_folder, tmp_path):
    from mmeff.evaluation import extract_features, linear_probe_top1
    runner = make_runner(tiny_image_folder, tmp_path, interval_iters=4,
                         linear=True)
    runner.train_loop._max_iters = 4
    runner.train()
    with open(tmp_path / 'probe_curve.json') as f:
        curve = json.load(f)
    hook = next(h for h in runner.hooks if hasattr(h, 'loaders'))
    model = runner.model
    train = extract_features(model, hook.loaders['train'])
    val = extract_features(model, hook.loaders['val'])
    assert curve[-1]['linear_top1'] == round(linear_probe_top1(*train, *val), 2)
