"""mmeff is a plugin: MMPretrain's own train tool runs with custom_imports."""
import os.path as osp

import mmpretrain
from mmpretrain.registry import HOOKS

from tests.helpers.tools import PYTHON, REPO, run_tool

UPSTREAM_TRAIN = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                          'train.py')
USER_CONFIG = osp.join(REPO, 'tests/configs/mae_tiny_user.py')
EMAE_CONFIG = osp.join(REPO, 'tests/configs/emae_tiny_user.py')


def test_import_registers_into_mmpretrain_registry():
    import mmeff  # noqa: F401
    assert HOOKS.get('EpochSeedHook').__module__.startswith('mmeff.')


def test_upstream_train_tool_trains_and_resumes_with_custom_imports(
        tiny_image_folder, tmp_path):
    """Only `custom_imports=['mmeff']` separates this from a stock config.

    The resume step loads an MMEngine checkpoint under torch's weights_only
    default, which fails without mmeff.
    """
    def upstream(*options):
        return run_tool([
            PYTHON, UPSTREAM_TRAIN, USER_CONFIG, '--work-dir', str(tmp_path),
            '--no-persistent-workers', '--cfg-options',
            f'train_dataloader.dataset.data_root={tiny_image_folder}',
            *options])

    first = upstream()
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = upstream('resume=True', 'train_cfg.max_epochs=5')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed epoch: 4' in resumed.stdout + resumed.stderr
    assert osp.isfile(tmp_path / 'epoch_5.pth')


def test_upstream_train_tool_trains_emae(tiny_image_folder, tmp_path):
    result = run_tool([
        PYTHON, UPSTREAM_TRAIN, EMAE_CONFIG, '--work-dir', str(tmp_path),
        '--no-persistent-workers', '--cfg-options',
        f'train_dataloader.dataset.data_root={tiny_image_folder}',
        'train_cfg.max_epochs=1'])
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert 'loss_rec' in log and 'loss_sc' in log
    assert osp.isfile(tmp_path / 'epoch_1.pth')
