"""Curriculum hooks inside real MMEngine runs (torch loader, persistent workers)."""
import json
import os.path as osp

import pytest

from tests.helpers.tools import PYTHON, REPO, assert_ok, assert_same_weights, run_tool

CONFIGS = osp.join(REPO, 'tests', 'configs')


def train(config, work_dir, data_root, *extra):
    return run_tool([PYTHON, 'tools/train.py', osp.join(CONFIGS, config),
                     '--work-dir', str(work_dir), *extra, '--cfg-options',
                     f'train_dataloader.dataset.data_root={data_root}'])


def seen(work_dir):
    with open(osp.join(work_dir, 'seen_sizes.json')) as f:
        return json.load(f)


def test_palindrome_sizes_reach_the_model_and_survive_kill_resume(
        tiny_image_folder, tmp_path):
    full, crashed = tmp_path / 'full', tmp_path / 'crashed'
    result = train('mae_tiny_curriculum.py', full, tiny_image_folder)
    assert_ok(result)
    sizes = seen(full)
    assert [sizes[str(e)] for e in range(6)] == \
        [[[16, 16]]] * 2 + [[[8, 8]]] * 2 + [[[16, 16]]] * 2
    assert 'resolution: 8' in result.stdout + result.stderr  # logged

    killed = train('mae_tiny_curriculum_crash.py', crashed, tiny_image_folder)
    assert killed.returncode == -9
    resumed = train('mae_tiny_curriculum.py', crashed, tiny_image_folder, '--resume')
    assert_ok(resumed)
    after = seen(crashed)
    assert after['4'] == after['5'] == [[16, 16]]
    assert after['lr_5'] == pytest.approx(sizes['lr_5'])
    assert_same_weights(full / 'epoch_6.pth', crashed / 'epoch_6.pth')


def test_efficienttrain_bandwidth_magnitude_lr_and_resume(tiny_image_folder, tmp_path):
    full, crashed = tmp_path / 'full', tmp_path / 'crashed'
    result = train('mae_tiny_efficienttrain.py', full, tiny_image_folder)
    assert_ok(result)
    log = result.stdout + result.stderr
    sizes = seen(full)
    # budget 3 full epochs: 0.2*3*4 = 2.4 -> 2 epochs at 8, 0.4*3*(16/12)^2
    # = 2.13 -> 2 at 12, 0.4*3 = 1.2 -> 1 at 16: 5 epochs.
    assert [sizes[str(e)] for e in range(5)] == \
        [[[8, 8]]] * 2 + [[[12, 12]]] * 2 + [[[16, 16]]]
    assert 'bandwidth: 8' in log and 'randaug_magnitude' in log
    lrs = [sizes[f'lr_{e}'] for e in range(5)]
    assert lrs[-1] < lrs[2] and max(lrs) <= 1e-3

    killed = train('mae_tiny_efficienttrain_crash.py', crashed, tiny_image_folder)
    assert killed.returncode == -9
    resumed = train('mae_tiny_efficienttrain.py', crashed, tiny_image_folder,
                    '--resume')
    assert_ok(resumed)
    assert seen(crashed)['lr_4'] == pytest.approx(sizes['lr_4'])
    assert_same_weights(full / 'epoch_5.pth', crashed / 'epoch_5.pth')


def test_palindrome_sizes_reach_the_model_on_the_essl_loader(
        tiny_image_folder, tmp_path):
    from mmeff.data.essl import write_essl
    beton = str(tmp_path / 'train.beton')
    write_essl(osp.join(tiny_image_folder, 'train'), beton, write_mode='raw',
               num_workers=1, progress=False)
    result = run_tool([
        PYTHON, 'tools/train.py', osp.join(CONFIGS, 'mae_tiny_curriculum_essl.py'),
        '--work-dir', str(tmp_path / 'w'), '--cfg-options',
        f'train_dataloader.path={beton}'])
    assert_ok(result)
    sizes = seen(tmp_path / 'w')
    assert [sizes[str(e)] for e in range(6)] == \
        [[[16, 16]]] * 2 + [[[8, 8]]] * 2 + [[[16, 16]]] * 2


def test_wrong_epoch_count_names_the_right_one(tiny_image_folder, tmp_path):
    result = train('mae_tiny_efficienttrain.py', tmp_path, tiny_image_folder,
                   '--cfg-options', 'train_cfg.max_epochs=7')
    assert result.returncode != 0
    assert 'set train_cfg.max_epochs=5' in result.stderr
