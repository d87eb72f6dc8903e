"""The training tool's checks before and around a run: each bad input or
interruption ends in one line, and what is on disk is what the line says."""
import os.path as osp
import shutil

import torch

from tests.helpers.tools import PYTHON, REPO, assert_ok, run_tool

CFG = osp.join(REPO, 'tests', 'configs')
MAE = osp.join(CFG, 'mae_tiny_user.py')
EMAE = osp.join(CFG, 'emae_tiny_user.py')


def train(config, work_dir, data_root, *options, resume=False):
    from mmeff.apis import train_main
    return train_main([config, '--work-dir', str(work_dir),
                       *(['--resume'] if resume else []), '--cfg-options',
                       f'train_dataloader.dataset.data_root={data_root}',
                       *options])


def error_line(capsys):
    lines = capsys.readouterr().err.strip().splitlines()
    return lines[-1] if lines else ''


def test_resuming_another_models_checkpoint_is_refused(
        tiny_image_folder, tmp_path, capsys):
    """Case 7: an EMAE checkpoint resumed with the MAE config: exit 2, one
    line, no step trained; a same-type model of other shapes likewise."""
    assert train(EMAE, tmp_path, tiny_image_folder,
                 'train_cfg.max_epochs=1') == 0
    ckpt = tmp_path / 'epoch_1.pth'
    before = ckpt.read_bytes()
    capsys.readouterr()
    assert train(MAE, tmp_path, tiny_image_folder, resume=True) == 2
    assert error_line(capsys) == (
        f'train: error: --resume {ckpt}: the checkpoint\'s model type is '
        'EMAE, the config\'s is MAE; resume with the config it was trained '
        'with (load_from= without --resume only initialises weights)')
    assert train(EMAE, tmp_path, tiny_image_folder,
                 'model.neck.decoder_embed_dim=8', resume=True) == 2
    line = error_line(capsys)
    assert line.startswith(f'train: error: --resume {ckpt}: ')
    assert 'parameters differ in name or shape from the config\'s model ' \
        '(first: neck.' in line
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_1.pth']
    assert ckpt.read_bytes() == before


def test_a_copied_work_dir_resumes_from_its_own_checkpoint(
        tiny_image_folder, tmp_path):
    """Case 8: ``last_checkpoint`` holds the original folder's absolute
    path; the copy resumes from the copy and leaves the original alone."""
    from mmeff.engine.outputs import newest_intact_checkpoint
    original, copy = tmp_path / 'original', tmp_path / 'copy'
    assert train(MAE, original, tiny_image_folder,
                 'train_cfg.max_epochs=2') == 0
    shutil.copytree(original, copy)
    assert str(original) in (copy / 'last_checkpoint').read_text()
    # The original's epoch_2.pth now holds epoch 1: resuming from it would
    # retrain epoch 2 and rewrite the copy's epoch_2.pth.
    shutil.copy(original / 'epoch_1.pth', original / 'epoch_2.pth')
    snapshot = {p.name: p.read_bytes() for p in original.glob('*.pth')}
    kept = (copy / 'epoch_2.pth').read_bytes()
    assert newest_intact_checkpoint(str(copy))[0] == str(copy /
                                                         'epoch_2.pth')
    assert train(MAE, copy, tiny_image_folder, 'train_cfg.max_epochs=3',
                 resume=True) == 0
    assert (copy / 'epoch_2.pth').read_bytes() == kept
    meta = torch.load(copy / 'epoch_3.pth', weights_only=True,
                      map_location='cpu')['meta']
    assert meta['epoch'] == 3
    assert {p.name: p.read_bytes() for p in original.glob('*.pth')} == \
        snapshot


def test_ctrl_c_says_what_is_on_disk_and_how_to_resume(tiny_image_folder,
                                                       tmp_path):
    """Case 12: SIGINT in epoch 3: exit 130, one line naming the latest
    intact checkpoint and the resume command, no traceback; the command it
    gives finishes the run."""
    config = osp.join(CFG, 'mae_tiny_user_interrupt.py')
    res = run_tool([PYTHON, 'tools/train.py', config, '--work-dir',
                    str(tmp_path), '--cfg-options',
                    f'train_dataloader.dataset.data_root={tiny_image_folder}'])
    assert res.returncode == 130, res.stderr[-2000:]
    assert res.stderr.strip().splitlines()[-1] == (
        f'train: interrupted; checkpoints are intact, the latest is '
        f'{tmp_path}/epoch_2.pth; continue with: python tools/train.py '
        f'{config} --work-dir {tmp_path} --resume')
    assert 'Traceback' not in res.stderr
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == [
        'epoch_1.pth', 'epoch_2.pth']
    assert_ok(run_tool([PYTHON, 'tools/train.py', MAE, '--work-dir',
                        str(tmp_path), '--resume', '--cfg-options',
                        'train_dataloader.dataset.data_root='
                        f'{tiny_image_folder}']))
    assert (tmp_path / 'epoch_4.pth').is_file()


def test_a_registry_typo_gets_a_did_you_mean(tiny_image_folder, tmp_path,
                                             capsys):
    """Case 16: ``MAEVit`` for ``MAEViT``: exit 2, one line, nothing
    written."""
    assert train(MAE, tmp_path / 'w', tiny_image_folder,
                 'model.backbone.type=MAEVit') == 2
    assert error_line(capsys) == (
        f"train: error: {MAE}: type 'MAEVit' is not a registered model; "
        "did you mean 'MAEViT'?")
    assert not list((tmp_path / 'w').glob('*.pth'))


def test_a_malformed_override_value_is_one_line(tiny_image_folder, tmp_path,
                                                capsys):
    """Case 16: ``train_cfg.max_epochs=abc``: exit 2 before anything is
    built."""
    assert train(MAE, tmp_path / 'w', tiny_image_folder,
                 'train_cfg.max_epochs=abc') == 2
    assert error_line(capsys) == (
        'train: error: --cfg-options train_cfg.max_epochs=abc: expected a '
        'number (the config has 4)')
    assert not (tmp_path / 'w').exists()


def test_upstream_maevit_mask_ratio_is_checked_too(tiny_image_folder,
                                                   tmp_path, capsys):
    """Case 17: MMPretrain's own ``MAEViT`` with ``mask_ratio=1.5``: exit 2,
    one line, nothing trained (mmeff's ViTs refuse it when built)."""
    assert train(MAE, tmp_path, tiny_image_folder,
                 'model.backbone.mask_ratio=1.5') == 2
    assert error_line(capsys) == (
        'train: error: model.backbone: mask_ratio=1.5 keeps 0 of 16 patches '
        'visible; it must be in (0, 1) and leave at least one patch visible '
        'and one masked, e.g. 0.75')
    assert not list(tmp_path.glob('*.pth'))
