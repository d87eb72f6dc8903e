"""DailyMAERunner: one-field toggles, real training, resume mid-curriculum."""
import json
import math
import os.path as osp

import pytest

from mmeff.engine.config import ConfigError, load_config
from mmeff.engine.runners import resolve_dailymae
from tests.helpers.tools import (PYTHON, REPO, assert_ok, assert_same_weights,
                                 run_tool)

TINY = 'configs/dailymae/dailymae_vit-tiny-p4_fashion-mnist.py'
VIT_B = 'configs/dailymae/dailymae_vit-b-p16_8xb512-800e_in1k.py'
TEST_CFG = osp.join(REPO, 'tests/configs/dailymae_tiny.py')
CRASH_CFG = osp.join(REPO, 'tests/configs/dailymae_tiny_crash.py')
DEFAULT = dict(essl=True, algorithm='emae', curriculum='palindrome')
CURRICULUM_HOOKS = ('ProgressiveResolutionHook', 'EfficientTrainHook')


def resolved(config, **flips):
    options = {f'dailymae.{k}': v for k, v in flips.items()}
    return resolve_dailymae(load_config(osp.join(REPO, config), options))


def flatten(value, prefix=''):
    """Dotted paths -> leaves; lists are leaves (hook lists compare whole)."""
    if isinstance(value, dict):
        out = {}
        for key, sub in value.items():
            out.update(flatten(sub, f'{prefix}{key}.'))
        return out
    return {prefix[:-1]: value}


def changed(a, b):
    fa, fb = flatten(a.to_dict()), flatten(b.to_dict())
    return {k for k in fa.keys() | fb.keys()
            if fa.get(k, '<absent>') != fb.get(k, '<absent>')
            and not k.startswith('dailymae')}


def _loader_paths(paths, preprocessor):
    return all(p.startswith(('train_dataloader.', preprocessor))
               for p in paths)


def _model_paths(paths, preprocessor):
    return all((p.startswith('model.') and not p.startswith(preprocessor))
               or p in ('train_dataloader.batch_size',
                        'auto_scale_lr.base_batch_size') for p in paths)


@pytest.mark.parametrize('config,preprocessor', [
    (TINY, 'model.data_preprocessor.'), (VIT_B, 'data_preprocessor.')])
def test_each_toggle_changes_only_its_component(config, preprocessor):
    base = resolved(config)
    assert base.dailymae_resolved == DEFAULT

    essl = changed(base, resolved(config, essl=False))
    assert _loader_paths(essl, preprocessor), essl
    assert 'train_dataloader.type' in essl
    assert preprocessor + 'to_rgb' in essl

    algo = changed(base, resolved(config, algorithm='mae'))
    assert _model_paths(algo, preprocessor), algo
    assert {'model.type', 'model.backbone.type',
            'train_dataloader.batch_size'} <= algo

    for value, owned in ((None, {'custom_hooks'}),
                         ('efficienttrain', {'custom_hooks',
                                             'train_cfg.max_epochs',
                                             'param_scheduler'})):
        paths = changed(base, resolved(config, curriculum=value))
        assert paths == owned, (value, paths)


@pytest.mark.parametrize('config', [TINY, VIT_B])
def test_alternatives_are_what_the_toggles_promise(config):
    from mmeff.engine.hooks import EfficientTrainHook
    essl, stock = resolved(config), resolved(config, essl=False)
    decoder = essl.train_dataloader.decoder
    crop = stock.train_dataloader.dataset.pipeline[1]
    assert essl.train_dataloader.type == 'ESSLLoader'
    assert [t['type'] for t in stock.train_dataloader.dataset.pipeline] == [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'PackInputs']
    for key in ('scale', 'crop_ratio_range', 'interpolation'):
        assert crop[key] == decoder[key], key

    mae, emae = resolved(config, algorithm='mae'), essl
    assert mae.model.type == 'MAE' and emae.model.type == 'EMAE'
    assert mae.model.backbone.type == 'VarResMAEViT'
    assert mae.model.neck.type == 'VarResMAEPretrainDecoder'
    # Same MAE tasks per step and the same LR.
    assert mae.train_dataloader.batch_size == \
        emae.train_dataloader.batch_size * emae.model.backbone.num_parts
    assert mae.optim_wrapper == emae.optim_wrapper

    none = resolved(config, curriculum=None)
    assert not [h for h in none.custom_hooks
                if h['type'] in CURRICULUM_HOOKS]
    assert [h['type'] for h in essl.custom_hooks][-1] == \
        'ProgressiveResolutionHook'
    et = resolved(config, curriculum='efficienttrain')
    hook = et.custom_hooks[-1].to_dict()
    assert hook.pop('type') == 'EfficientTrainHook'
    assert et.param_scheduler == []
    patch = et.model.backbone.get('patch_size', 16)
    plan = EfficientTrainHook(**hook).build_schedule(patch)
    assert et.train_cfg.max_epochs == plan.total_epochs
    for size in plan.bandwidth_per_epoch:  # EMAE's K=4 splits every grid
        assert (size // patch)**2 % 4 == 0


@pytest.mark.parametrize('flip,message', [
    (dict(algorithm='simclr'), "dailymae.algorithm='simclr': choose from "
     "'emae', 'mae'"),
    (dict(curriculum='ramp'), "dailymae.curriculum='ramp': choose from "
     "None, 'efficienttrain', 'palindrome'"),
    (dict(essl='yes'), "dailymae.essl='yes': choose from True, False"),
    (dict(loader='x'), 'dailymae.loader: unknown toggle; the toggles are '
     'essl, algorithm, curriculum'),
])
def test_bad_toggles_are_named_with_the_allowed_values(flip, message):
    with pytest.raises(ConfigError) as err:
        resolved(TINY, **flip)
    assert str(err.value) == message


def test_curriculum_none_from_the_command_line_and_resolved_dump(tmp_path):
    cfg = resolved(TINY, curriculum='none')
    assert cfg.dailymae_resolved['curriculum'] is None
    # The resolved config (what the work dir holds) trains by itself ...
    cfg.dump(str(tmp_path / 'resolved.py'))
    again = load_config(str(tmp_path / 'resolved.py'))
    assert 'dailymae_components' not in again
    assert resolve_dailymae(again).to_dict() == again.to_dict()
    # ... and refuses toggles it has no alternatives for any more.
    again.dailymae.essl = False
    with pytest.raises(ConfigError, match='already resolved'):
        resolve_dailymae(again)


@pytest.mark.parametrize('essl', [True, False])
def test_missing_data_of_the_chosen_loader_is_named(essl, tmp_path):
    from mmeff.apis.train import build_runner
    from mmeff.data.checks import DatasetError
    cfg = load_config(osp.join(REPO, TINY), {'dailymae.essl': essl})
    loaders = cfg.dailymae_components.loader
    loaders.essl.train_dataloader.path = str(tmp_path / 'none.beton')
    loaders.stock.train_dataloader.dataset.data_root = str(tmp_path / 'none')
    cfg.work_dir, cfg.launcher = str(tmp_path), 'none'
    missing = 'none.beton' if essl else 'none'
    with pytest.raises(DatasetError, match=f'not found: .*{missing}'):
        build_runner(cfg)


def test_bad_toggle_from_the_train_tool_is_one_line_exit_2(tmp_path):
    result = run_tool([PYTHON, 'tools/train.py', osp.join(REPO, TINY),
                       '--work-dir', str(tmp_path), '--cfg-options',
                       'dailymae.curriculum=ramp'])
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if 'error' in line]
    assert lines == ["train: error: dailymae.curriculum='ramp': choose from "
                     "None, 'efficienttrain', 'palindrome'"], result.stderr
    assert 'Traceback' not in result.stderr


# One torch thread: the tiny ViT gains nothing from two, and on a busy
# 2-core machine OpenMP's waiting made two-thread steps many times slower.
ONE_THREAD = {'OMP_NUM_THREADS': '1'}


def _train(config, work_dir, beton, *extra):
    return run_tool([PYTHON, 'tools/train.py', config, '--work-dir',
                     str(work_dir), *extra, '--cfg-options',
                     f'dailymae_components.loader.essl.train_dataloader.path='
                     f'{beton}'], env=ONE_THREAD)


def _seen(work_dir):
    with open(osp.join(work_dir, 'seen_sizes.json')) as f:
        return json.load(f)


def test_composed_config_trains_and_resumes_mid_curriculum(fmnist_beton,
                                                           tmp_path):
    """ESSL + EMAE + palindrome: killed in the second 24-px epoch, resumed."""
    full, crashed = tmp_path / 'full', tmp_path / 'crashed'
    result = _train(TEST_CFG, full, fmnist_beton)
    assert_ok(result)
    log = result.stdout + result.stderr
    assert "DailyMAE: essl=True, algorithm='emae', curriculum='palindrome'" \
        in log
    assert 'loss_sc' in log and 'resolution: 24' in log
    # 40 images, 16 per step (x 4 parts), ESSL drops the last partial batch.
    assert 'Epoch(train) [5][2/2]' in log
    sizes = _seen(full)
    assert [sizes[str(e)] for e in range(5)] == \
        [[[32, 32]]] * 2 + [[[24, 24]]] * 2 + [[[32, 32]]]

    killed = _train(CRASH_CFG, crashed, fmnist_beton)
    assert killed.returncode == -9
    assert osp.isfile(crashed / 'epoch_3.pth')
    resumed = _train(TEST_CFG, crashed, fmnist_beton, '--resume')
    assert_ok(resumed)
    log = resumed.stdout + resumed.stderr
    assert 'resumed epoch: 3' in log and 'Epoch(train) [4][1/2]' in log
    after = _seen(crashed)
    assert after['3'] == [[24, 24]] and after['4'] == [[32, 32]]
    # The cosine over 10 steps went on from step 6 (MMEngine's last step of
    # a scheduler ending at 10 is 9), not from 0.
    base = 1.5e-4 * 64 / 256 * 8
    for epoch, step in ((3, 8), (4, 9)):
        assert after[f'lr_{epoch}'] == pytest.approx(
            base * (1 + math.cos(math.pi * step / 10)) / 2)
        assert after[f'lr_{epoch}'] == pytest.approx(sizes[f'lr_{epoch}'])
    # Order, crop boxes (keyed by seed, epoch, sample) and EMAE's masks
    # (EpochSeedHook) replay: the weights equal the uninterrupted run's.
    assert_same_weights(full / 'epoch_5.pth', crashed / 'epoch_5.pth')


def test_stock_mae_efficienttrain_variant_trains(tiny_image_folder, tmp_path):
    """The other alternatives build and train through the same runner."""
    from mmeff.apis.train import build_runner
    cfg = load_config(TEST_CFG, {
        'dailymae.essl': False, 'dailymae.algorithm': 'mae',
        'dailymae.curriculum': 'efficienttrain',
        'dailymae_components.loader.stock.train_dataloader.dataset.data_root':
        tiny_image_folder,
        # budget 1 epoch at 16/24/32 px: one epoch per stage
        'dailymae_components.curriculum.efficienttrain.train_cfg.max_epochs':
        3})
    cfg.dailymae_components.curriculum.efficienttrain.custom_hooks[0][
        'budget_epochs'] = 1
    cfg.work_dir, cfg.launcher = str(tmp_path), 'none'
    runner = build_runner(cfg)
    assert type(runner).__name__ == 'DailyMAERunner'
    runner.train()
    assert runner.iter == 3  # 40 images in one batch of 64, 3 epochs
    assert _seen(tmp_path)['2'] == [[32, 32]]
    assert [_seen(tmp_path)[str(e)] for e in range(2)] == [[[16, 16]],
                                                           [[24, 24]]]


def test_dist_train_two_processes(fmnist_beton, tmp_path):
    result = run_tool(
        ['bash', 'tools/dist_train.sh', TEST_CFG, '2', '--work-dir',
         str(tmp_path), '--cfg-options',
         f'dailymae_components.loader.essl.train_dataloader.path={fmnist_beton}',
         'train_cfg.max_epochs=1'],
        env={'PORT': '29531', **ONE_THREAD})
    assert_ok(result)
    log = result.stdout + result.stderr
    assert 'Distributed launcher: pytorch' in log and 'DailyMAE' in log
    # 40 images over 2 ranks: 20 per rank, one batch of 16 each.
    assert 'Epoch(train) [1][1/1]' in log
    assert osp.isfile(tmp_path / 'epoch_1.pth')
