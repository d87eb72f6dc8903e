"""The DailyMAE configs: what each alternative sets, training, resume."""
import json
import math
import os.path as osp

import pytest

from mmeff.engine.config import load_config
from tests.helpers.tools import PYTHON, REPO, assert_ok, assert_same_weights, run_tool

TINY = 'vit-tiny-p4_1xb64-10e_fashion-mnist'
VIT_B = 'vit-b-p16_8xb512-800e_in1k'
TEST_CFG = osp.join(REPO, 'tests/configs/dailymae_tiny.py')
CRASH_CFG = osp.join(REPO, 'tests/configs/dailymae_tiny_crash.py')


def config_of(scale, combination=None):
    name = f'dailymae_{scale}' + (f'_{combination}' if combination else '')
    return load_config(osp.join(REPO, 'configs/dailymae', name + '.py'))


@pytest.mark.parametrize('scale', [TINY, VIT_B])
def test_alternatives_are_what_the_configs_promise(scale):
    from mmeff.engine.curricula import efficienttrain_schedule
    essl, stock = config_of(scale), config_of(scale, 'mae-stock-none')
    decoder = essl.train_dataloader.decoder
    crop = stock.train_dataloader.dataset.pipeline[1]
    assert essl.train_dataloader.type == 'ESSLLoader'
    assert [t['type'] for t in stock.train_dataloader.dataset.pipeline] == [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'PackInputs']
    for key in ('scale', 'crop_ratio_range', 'interpolation'):
        assert crop[key] == decoder[key], key

    mae, emae = config_of(scale, 'mae-essl-palindrome'), essl
    assert mae.model.type == 'MAE' and emae.model.type == 'EMAE'
    assert mae.model.backbone.type == 'VarResMAEViT'
    assert mae.model.neck.type == 'VarResMAEPretrainDecoder'
    # Same MAE tasks per step and the same LR.
    assert mae.train_dataloader.batch_size == \
        emae.train_dataloader.batch_size * emae.model.backbone.num_parts
    assert mae.optim_wrapper == emae.optim_wrapper
    assert mae.custom_hooks == emae.custom_hooks
    assert [h['type'] for h in essl.custom_hooks] == [
        'EpochSeedHook', 'ProgressiveResolutionHook']
    assert [h['type'] for h in stock.custom_hooks] == ['EpochSeedHook']

    et = config_of(scale, 'emae-essl-efficienttrain')
    hook = et.custom_hooks[-1].to_dict()
    assert hook.pop('type') == 'EfficientTrainHook'
    hook.pop('crop_mode')
    # The LR follows the hook's own plan, through the one LR scheduler.
    [lr] = [s.to_dict() for s in et.param_scheduler]
    assert lr.pop('type') == 'EfficientTrainLR' and lr.pop('warmup') > 0
    assert lr.pop('convert_to_iter_based') and lr == hook
    patch = et.model.backbone.get('patch_size', 16)
    plan = efficienttrain_schedule(**hook, patch_size=patch)
    assert et.train_cfg.max_epochs == plan.total_epochs
    for size in plan.bandwidth_per_epoch:  # EMAE's K=4 splits every grid
        assert (size // patch)**2 % 4 == 0


@pytest.mark.parametrize('combination', [None, 'mae-stock-none'])
def test_missing_data_of_the_chosen_loader_is_named(combination, tmp_path):
    from mmeff.apis.train import build_runner
    from mmeff.data.checks import DatasetError
    cfg = config_of(TINY, combination)
    if combination is None:
        cfg.train_dataloader.path = str(tmp_path / 'none.beton')
    else:
        cfg.train_dataloader.dataset.data_root = str(tmp_path / 'none')
    cfg.work_dir, cfg.launcher = str(tmp_path), 'none'
    missing = 'none' if combination else 'none.beton'
    with pytest.raises(DatasetError, match=f'not found: .*{missing}'):
        build_runner(cfg)


# One torch thread: the tiny ViT gains nothing from two, and on a busy
# 2-core machine OpenMP's waiting made two-thread steps many times slower.
ONE_THREAD = {'OMP_NUM_THREADS': '1'}


def _train(config, work_dir, beton, *extra):
    return run_tool([PYTHON, 'tools/train.py', config, '--work-dir',
                     str(work_dir), *extra, '--cfg-options',
                     f'train_dataloader.path={beton}'], env=ONE_THREAD)


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


def test_efficienttrain_config_trains(fmnist_beton, tmp_path):
    """The EfficientTrain++ alternative builds and trains the same way."""
    import tests.helpers.recorder_hook  # noqa: F401  registers the recorder
    from mmeff.apis.train import build_runner
    cfg = config_of(TINY, 'mae-essl-efficienttrain')
    # budget 1 epoch at 16/24/32 px: one epoch per stage
    cfg.custom_hooks[-1]['budget_epochs'] = 1
    cfg.param_scheduler[0]['budget_epochs'] = 1  # the LR's plan is the same
    cfg.train_cfg.max_epochs = 3
    cfg.train_dataloader.update(path=fmnist_beton, batch_size=16,
                                num_workers=1)
    cfg.custom_hooks.append(dict(type='InputSizeRecorderHook'))
    cfg.work_dir, cfg.launcher = str(tmp_path), 'none'
    runner = build_runner(cfg)
    runner.train()
    assert runner.iter == 6  # 40 images, 2 full batches of 16, 3 epochs
    assert [_seen(tmp_path)[str(e)] for e in range(3)] == [
        [[16, 16]], [[24, 24]], [[32, 32]]]


def test_dist_train_two_processes(fmnist_beton, tmp_path):
    result = run_tool(
        ['bash', 'tools/dist_train.sh', TEST_CFG, '2', '--work-dir',
         str(tmp_path), '--cfg-options',
         f'train_dataloader.path={fmnist_beton}',
         'train_cfg.max_epochs=1'],
        env={'PORT': '29531', **ONE_THREAD})
    assert_ok(result)
    log = result.stdout + result.stderr
    assert 'Distributed launcher: pytorch' in log and 'loss_sc' in log
    # 40 images over 2 ranks: 20 per rank, one batch of 16 each.
    assert 'Epoch(train) [1][1/1]' in log
    assert osp.isfile(tmp_path / 'epoch_1.pth')
