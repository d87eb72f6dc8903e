"""tools/benchmarks/end_to_end.py: variants, schedules and the ratio report.

The smoke run itself (four training subprocesses) takes longer than a test
should on 2 cores; these tests cover what it computes from recorded curves
and the configs it builds.
"""
import importlib.util
import os.path as osp

import pytest

from tests.helpers.tools import REPO


@pytest.fixture(scope='module')
def e2e():
    path = osp.join(REPO, 'tools/benchmarks/end_to_end.py')
    spec = importlib.util.spec_from_file_location('end_to_end', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(data, step, train, curve):
    return dict(data_seconds_per_step=data, step_seconds_per_step=step,
                train_seconds=train,
                curve=[dict(train_seconds=t, knn_top1=k) for t, k in curve])


def test_ratios_to_stock_from_recorded_curves(e2e):
    runs = dict(
        stock=_run(0.2, 0.5, 100.0, [(50.0, 55.0), (100.0, 60.0)]),
        essl=_run(0.05, 0.4, 80.0, [(40.0, 58.0), (80.0, 61.0)]),
        essl_curriculum=_run(0.04, 0.35, 70.0, [(35.0, 60.0), (70.0, 62.0)]),
        emae_essl_curriculum=_run(0.01, 0.3, 75.0,
                                  [(37.5, 52.0), (75.0, 59.9)]))
    report = e2e.summarize(runs)
    assert report['baseline'] == 'stock' and report['target_knn_top1'] == 60.0
    table = report['vs_baseline']
    assert table['stock'] == dict(
        data_time_ratio=1.0, step_time_ratio=1.0, wall_time_ratio=1.0,
        time_to_target=100.0, time_to_target_ratio=1.0, reached_target=True,
        final_knn_top1=60.0)
    assert table['essl']['data_time_ratio'] == 0.25
    assert table['essl']['step_time_ratio'] == 0.8
    assert table['essl']['time_to_target_ratio'] == 0.8  # 80 s vs 100 s
    assert table['essl_curriculum']['time_to_target'] == 35.0
    assert table['essl_curriculum']['time_to_target_ratio'] == 0.35
    assert table['essl_curriculum']['wall_time_ratio'] == 0.7
    never = table['emae_essl_curriculum']
    assert never['reached_target'] is False
    assert never['time_to_target'] is None
    assert never['time_to_target_ratio'] is None
    assert never['data_time_ratio'] == 0.05


def test_baseline_reaching_its_final_proxy_early_sets_the_denominator(e2e):
    runs = dict(stock=_run(0.1, 0.2, 90.0, [(30.0, 60.0), (90.0, 59.0)]),
                essl=_run(0.1, 0.2, 90.0, [(45.0, 59.0), (90.0, 59.5)]))
    table = e2e.summarize(runs)['vs_baseline']
    assert table['stock']['time_to_target'] == 30.0
    assert table['essl']['time_to_target_ratio'] == 1.5  # 45 s / 30 s


def test_variants_are_toggle_flips_with_equal_steps(e2e):
    assert [e2e.toggles(v, 'palindrome') for v in e2e.VARIANTS] == [
        dict(essl=False, algorithm='mae', curriculum=None),
        dict(essl=True, algorithm='mae', curriculum=None),
        dict(essl=True, algorithm='mae', curriculum='palindrome'),
        dict(essl=True, algorithm='emae', curriculum='palindrome')]
    assert e2e.toggles('emae_essl_curriculum', 'efficienttrain')[
        'curriculum'] == 'efficienttrain'
    assert e2e.variant_epochs(20, 'mae', 4) == 20
    assert e2e.variant_epochs(20, 'emae', 4) == 5
    assert e2e.variant_epochs(2, 'emae', 4) == 1


@pytest.mark.parametrize('variant,curriculum', [
    ('stock', 'palindrome'), ('emae_essl_curriculum', 'palindrome'),
    ('emae_essl_curriculum', 'efficienttrain')])
def test_configure_sizes_each_variant(e2e, tiny_image_folder, tmp_path,
                                      variant, curriculum):
    flags = e2e.toggles(variant, curriculum)
    epochs = e2e.variant_epochs(8, flags['algorithm'], 4)
    cfg = e2e.configure(dict(
        variant=variant, toggles=flags, data_root=tiny_image_folder,
        work_dir=str(tmp_path), seed=3, probes=4, epochs=epochs))
    assert cfg.filename.endswith(e2e.config_path(flags))
    assert cfg.randomness.seed == 3
    probe = cfg.custom_hooks[-1]
    assert probe['type'] == 'FeatureProbeHook'
    assert probe['val_dataloader']['dataset']['data_root'] == \
        tiny_image_folder
    if variant == 'stock':  # 40 images, batch 64: 1 step per epoch
        assert cfg.train_dataloader.dataset.data_root == tiny_image_folder
        assert cfg.train_cfg.max_epochs == 8 and probe['interval_iters'] == 2
        assert [s['end'] for s in cfg.param_scheduler] == [2, 8]
    elif curriculum == 'palindrome':  # 40 // 16 = 2 steps per epoch
        assert cfg.train_dataloader.path == osp.join(tiny_image_folder,
                                                     'train.beton')
        assert cfg.train_cfg.max_epochs == 2 and probe['interval_iters'] == 1
        assert cfg.custom_hooks[-2]['type'] == 'ProgressiveResolutionHook'
    else:  # the config's budget ratio (1/1.5) applied to 2 epochs
        hook = cfg.custom_hooks[-2]
        assert hook['type'] == 'EfficientTrainHook'
        assert hook['budget_epochs'] == pytest.approx(2 / 1.5)
        [lr] = cfg.param_scheduler  # the LR follows the same budget
        assert lr['type'] == 'EfficientTrainLR'
        assert lr['budget_epochs'] == hook['budget_epochs']
        assert cfg.train_cfg.max_epochs == 3  # one epoch per bandwidth
