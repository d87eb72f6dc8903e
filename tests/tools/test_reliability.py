"""Bad input and faults, run as a user meets them: each ends with one clear
error or a recoverable state, and nothing saved before is lost."""
import os
import os.path as osp
import shutil

import pytest
import torch

from mmeff.engine.outputs import is_intact_checkpoint
from tests.helpers.tools import PYTHON, REPO, assert_ok, assert_same_weights, run_tool
from tests.tools.test_train import USER_CONFIG, train

CFG = osp.join(REPO, 'tests/configs')
VARRES_CONFIG = osp.join(CFG, 'mae_tiny_curriculum.py')


def error_lines(result):
    return [line for line in result.stderr.splitlines() if 'error:' in line]


def train_in_process(config, work_dir, data_root, *options):
    """tools/train.py's main in this process (no start-up cost)."""
    from mmeff.apis import train_main
    return train_main([
        config, '--work-dir', str(work_dir), '--cfg-options',
        f'train_dataloader.dataset.data_root={data_root}', *options])


def one_error_line(capsys):
    lines = [line for line in capsys.readouterr().err.splitlines()
             if 'error:' in line]
    assert len(lines) == 1, lines
    return lines[0]


def test_bad_mask_ratio_is_a_one_line_error(tiny_image_folder, tmp_path,
                                            capsys):
    """Model-level cases (0, 1, negative, EMAE's None) in tests/models."""
    rc = train_in_process(VARRES_CONFIG, tmp_path, tiny_image_folder,
                          'model.backbone.mask_ratio=1.5')
    assert rc == 2
    assert one_error_line(capsys).startswith(
        'train: error: mask_ratio=1.5 keeps 0 of 16 patches visible')
    assert not list(tmp_path.glob('*.pth'))


def test_nan_loss_stops_the_run_before_a_nan_checkpoint(tiny_image_folder,
                                                        tmp_path, capsys):
    """Weights turn NaN at the start of epoch 2: exit 2 at its first
    iteration, epoch_1.pth (finite) is the last checkpoint."""
    rc = train_in_process(osp.join(CFG, 'mae_tiny_user_nan.py'), tmp_path,
                          tiny_image_folder)
    assert rc == 2
    line = one_error_line(capsys)
    assert line.startswith('train: error: loss=nan') and \
        'at epoch 2, iteration 1' in line
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_1.pth']
    state = torch.load(tmp_path / 'epoch_1.pth', weights_only=True,
                       map_location='cpu')['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values()), line


def test_unwritable_work_dir_is_a_one_line_error(tiny_image_folder, tmp_path,
                                                 capsys):
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a folder')
    work_dir = blocker / 'work'
    assert train_in_process(USER_CONFIG, work_dir, tiny_image_folder) == 2
    assert one_error_line(capsys).startswith(
        f'train: error: cannot write to {work_dir} (Not a directory)')


def test_batch_larger_than_the_data_set_is_a_one_line_error(
        tiny_image_folder, tmp_path, capsys):
    """The torch DataLoader path (the ESSL loader's case is in
    tests/data/essl/test_loader.py)."""
    rc = train_in_process(USER_CONFIG, tmp_path, tiny_image_folder,
                          'train_dataloader.batch_size=100000',
                          'train_dataloader.drop_last=True')
    assert rc == 2
    line = one_error_line(capsys)
    assert line.startswith('train: error: train_dataloader: '
                           'batch_size=100000 is larger than the ') and \
        'drop_last=True leaves no batch' in line
    assert not list(tmp_path.glob('*.pth'))


@pytest.mark.parametrize('script,args,needs', [
    ('dist_train.sh', ['CONFIG'], 'number of processes'),
    ('dist_train.sh', ['CONFIG', '--resume'], "got '--resume'"),
    ('dist_test.sh', ['CONFIG', 'CKPT'], 'number of processes'),
    ('slurm_train.sh', ['PARTITION', 'JOB'], 'the config'),
])
def test_launchers_without_their_arguments_print_usage(script, args, needs):
    result = run_tool(['bash', f'tools/{script}', *args])
    assert result.returncode == 2
    assert result.stderr.startswith('usage: ') and script in result.stderr
    assert len(error_lines(result)) == 1 and needs in error_lines(result)[0]


def test_curriculum_plot_keeps_an_existing_file(tmp_path):
    out = tmp_path / 'plot.png'
    out.write_bytes(b'old bytes')
    result = run_tool([PYTHON, 'tools/analysis_tools/plot_curriculum.py',
                       VARRES_CONFIG, '--out', str(out)])
    assert result.returncode == 2
    assert result.stderr.strip() == (f'plot_curriculum: error: {out} already '
                                     'exists; pass --overwrite to replace it')
    assert out.read_bytes() == b'old bytes'


@pytest.fixture(scope='module')
def full_run(tiny_image_folder, tmp_path_factory):
    """An uninterrupted 4-epoch run of mae_tiny_user.py (epoch_1..4.pth)."""
    work_dir = tmp_path_factory.mktemp('full')
    assert_ok(train(USER_CONFIG, work_dir, tiny_image_folder))
    return work_dir


def copy_of(run, tmp_path):
    return shutil.copytree(run, tmp_path / 'run')


def test_kill_during_a_checkpoint_save_loses_nothing(full_run,
                                                     tiny_image_folder,
                                                     tmp_path):
    """max_keep_ckpts=1 and SIGKILL half-way through writing epoch_3.pth:
    epoch_2.pth survives intact, and --resume ends where an uninterrupted
    run ends (MMEngine's own hook deletes epoch_2.pth before the write)."""
    crashed = tmp_path / 'crashed'
    killed = train(osp.join(CFG, 'mae_tiny_user_savekill.py'), crashed,
                   tiny_image_folder)
    assert killed.returncode == -9, killed.stderr[-3000:]
    partial = [p for p in os.listdir(crashed) if p.endswith('.tmp')]
    assert len(partial) == 1 and 'epoch_3.pth' in partial[0]
    assert 0 < osp.getsize(crashed / partial[0])  # the kill hit mid-write
    assert sorted(p.name for p in crashed.glob('*.pth')) == ['epoch_2.pth']
    assert is_intact_checkpoint(crashed / 'epoch_2.pth')
    assert (crashed / 'last_checkpoint').read_text() == str(
        crashed / 'epoch_2.pth')

    resumed = train(USER_CONFIG, crashed, tiny_image_folder, '--resume')
    assert_ok(resumed)
    log = resumed.stdout + resumed.stderr
    assert 'resumed epoch: 2' in log and 'interrupted' in log
    assert not [p for p in os.listdir(crashed) if p.endswith('.tmp')]
    assert_same_weights(full_run / 'epoch_4.pth', crashed / 'epoch_4.pth')


def test_resume_skips_a_truncated_newest_checkpoint(full_run,
                                                    tiny_image_folder,
                                                    tmp_path):
    """epoch_4.pth cut in half: --resume takes epoch_3.pth and remakes
    epoch_4.pth bit for bit."""
    run = copy_of(full_run, tmp_path)
    newest = run / 'epoch_4.pth'
    newest.write_bytes(newest.read_bytes()[:newest.stat().st_size // 2])
    (run / 'last_checkpoint').write_text(str(newest))

    resumed = train(USER_CONFIG, run, tiny_image_folder, '--resume')
    assert_ok(resumed)
    log = resumed.stdout + resumed.stderr
    assert f'skipping {newest}' in log and 'resumed epoch: 3' in log
    assert_same_weights(full_run / 'epoch_4.pth', newest)


def test_resume_with_no_intact_checkpoint_is_a_one_line_error(
        full_run, tiny_image_folder, tmp_path, capsys):
    run = copy_of(full_run, tmp_path)
    for ckpt in run.glob('*.pth'):
        ckpt.write_bytes(ckpt.read_bytes()[:1000])
    (run / 'last_checkpoint').write_text(str(run / 'epoch_4.pth'))
    assert train_in_process(USER_CONFIG, run, tiny_image_folder,
                            '--resume') == 2
    line = one_error_line(capsys)
    assert line.startswith(f'train: error: no intact checkpoint to resume '
                           f'from in {run}')
    assert all(str(run / f'epoch_{e}.pth') in line for e in range(1, 5))


def dist_train(config, work_dir, data_root, port, *extra):
    return run_tool(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
         str(work_dir), *extra, '--cfg-options',
         f'train_dataloader.dataset.data_root={data_root}',
         'train_cfg.max_epochs=2'],
        env={'PORT': str(port), 'OMP_NUM_THREADS': '1'}, timeout=300)


def test_rank_killed_mid_epoch_stops_the_run_and_resume_matches(
        tiny_image_folder, tmp_path):
    """2-process gloo run, rank 1 SIGKILLed in epoch 2: the survivor stops
    with one line (lost peer, or the launcher's SIGTERM, whichever comes
    first), torchrun's report names rank 1 and SIGKILL (the subprocess
    timeout guards against a hang), and --resume on 2 processes ends with
    the uninterrupted run's weights."""
    full, crashed = tmp_path / 'full', tmp_path / 'crashed'
    assert_ok(dist_train(USER_CONFIG, full, tiny_image_folder, 29541))

    killed = dist_train(osp.join(CFG, 'mae_tiny_user_rankkill.py'), crashed,
                        tiny_image_folder, 29542)
    assert killed.returncode == 1, killed.stderr[-3000:]
    survivor = error_lines(killed)
    assert len(survivor) == 1 and survivor[0].startswith(
        'train: error: rank 0 of 2: ') and '--resume' in survivor[0]
    assert 'Signal 9 (SIGKILL)' in killed.stderr
    assert 'rank      : 1' in killed.stderr
    assert sorted(p.name for p in crashed.glob('*.pth')) == ['epoch_1.pth']

    resumed = dist_train(USER_CONFIG, crashed, tiny_image_folder, 29543,
                         '--resume')
    assert_ok(resumed)
    assert 'resumed epoch: 1' in resumed.stdout + resumed.stderr
    assert_same_weights(full / 'epoch_2.pth', crashed / 'epoch_2.pth')
