"""tools/train.py, tools/test.py and tools/dist_train.sh, run as a user would."""
import os.path as osp

import pytest
import torch

from tests.helpers.tools import PYTHON, REPO, assert_ok, assert_same_weights, run_tool

USER_CONFIG = osp.join(REPO, 'tests/configs/mae_tiny_user.py')
CRASHING_CONFIG = osp.join(REPO, 'tests/configs/mae_tiny_user_crash.py')
QUICKSTART = osp.join(
    REPO, 'configs/quickstart/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist.py')


def train(config, work_dir, data_root, *extra, options=()):
    return run_tool([
        PYTHON, 'tools/train.py', config, '--work-dir', str(work_dir), *extra,
        '--cfg-options', f'train_dataloader.dataset.data_root={data_root}',
        *options])


def test_user_config_with_custom_imports_trains(tiny_image_folder, tmp_path):
    result = train(USER_CONFIG, tmp_path, tiny_image_folder)
    assert_ok(result)
    assert 'Epoch(train) [4][5/5]' in result.stdout + result.stderr
    assert osp.isfile(tmp_path / 'epoch_4.pth')


def test_inherited_mmpretrain_config_trains_on_cpu(tiny_image_folder, tmp_path):
    """The quickstart config inherits mmpretrain::mae (AMP, scoped collate)."""
    result = train(QUICKSTART, tmp_path, tiny_image_folder, options=[
        'train_cfg.max_epochs=1', 'train_dataloader.batch_size=20',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False'])
    assert_ok(result)
    assert 'AMP needs an accelerator' in result.stdout + result.stderr
    assert osp.isfile(tmp_path / 'epoch_1.pth')


def test_resume_after_kill_matches_uninterrupted_run(tiny_image_folder, tmp_path):
    """SIGKILL in epoch 3, --resume: final weights equal (atol 0)."""
    full, crashed = tmp_path / 'full', tmp_path / 'crashed'
    assert_ok(train(USER_CONFIG, full, tiny_image_folder))

    killed = train(CRASHING_CONFIG, crashed, tiny_image_folder)
    assert killed.returncode == -9, 'the run was meant to die by SIGKILL'
    assert not osp.exists(crashed / 'epoch_3.pth')
    assert osp.isfile(crashed / 'epoch_2.pth')

    resumed = train(USER_CONFIG, crashed, tiny_image_folder, '--resume')
    assert_ok(resumed)
    assert 'resumed epoch: 2' in resumed.stdout + resumed.stderr
    assert_same_weights(full / 'epoch_4.pth', crashed / 'epoch_4.pth')


def test_resume_from_explicit_checkpoint_and_test_tool(tiny_image_folder, tmp_path):
    result = train(USER_CONFIG, tmp_path, tiny_image_folder,
                   options=['train_cfg.max_epochs=1'])
    assert_ok(result)
    ckpt = str(tmp_path / 'epoch_1.pth')
    again = train(USER_CONFIG, tmp_path / 'again', tiny_image_folder,
                  '--resume', ckpt, options=['train_cfg.max_epochs=2'])
    assert_ok(again)
    assert osp.isfile(tmp_path / 'again' / 'epoch_2.pth')


def test_dist_train_two_processes_gloo(tiny_image_folder, tmp_path):
    result = run_tool(
        ['bash', 'tools/dist_train.sh', USER_CONFIG, '2', '--work-dir',
         str(tmp_path), '--cfg-options',
         f'train_dataloader.dataset.data_root={tiny_image_folder}',
         'train_cfg.max_epochs=2'],
        env={'PORT': '29517'})
    assert_ok(result)
    log = result.stdout + result.stderr
    assert 'Distributed launcher: pytorch' in log
    assert "'backend': 'gloo'" in log or 'gloo' in log
    # 40 images over 2 ranks at batch 8: 3 iterations per epoch per rank.
    assert 'Epoch(train) [2][3/3]' in log
    assert osp.isfile(tmp_path / 'epoch_2.pth')


@pytest.mark.parametrize('case', ['missing_config', 'empty_dataset',
                                  'truncated_checkpoint'])
def test_bad_input_gives_one_line_error(case, tiny_image_folder, tmp_path):
    if case == 'missing_config':
        missing = str(tmp_path / 'nope.py')
        result = run_tool([PYTHON, 'tools/train.py', missing])
        named = missing
    elif case == 'empty_dataset':
        (tmp_path / 'data' / 'train' / 'a').mkdir(parents=True)
        (tmp_path / 'data' / 'train' / 'a' / 'notes.txt').write_text('x')
        result = train(USER_CONFIG, tmp_path / 'w', tmp_path / 'data')
        named = str(tmp_path / 'data' / 'train')
    else:
        ckpt = tmp_path / 'broken.pth'
        torch.save({'state_dict': {'w': torch.zeros(1000)}}, ckpt)
        ckpt.write_bytes(ckpt.read_bytes()[:300])
        result = train(USER_CONFIG, tmp_path / 'w', tiny_image_folder,
                       '--resume', str(ckpt))
        named = str(ckpt)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if 'error:' in line]
    assert len(lines) == 1 and named in lines[0], result.stderr[-2000:]
    assert 'Traceback' not in result.stderr
