"""mmeff is a plugin: MMPretrain's own train tool runs with custom_imports."""
import os
import os.path as osp

import mmpretrain
from mmpretrain.registry import HOOKS

from tests.helpers.tools import PYTHON, REPO, run_tool

UPSTREAM_TRAIN = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                          'train.py')
USER_CONFIG = osp.join(REPO, 'tests/configs/mae_tiny_user.py')
EMAE_CONFIG = osp.join(REPO, 'tests/configs/emae_tiny_user.py')
EMAE_QUICKSTART = 'configs/emae/emae_vit-tiny-p4_1xb16-coslr-10e_fashion-mnist.py'
ESSL_CONFIG = 'configs/essl/emae_vit-tiny-p4_1xb16-coslr-10e_fashion-mnist_essl.py'


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


# Makes numba and ffcv unimportable in every process that reads it, as if
# only mmeff's core dependencies were installed.
BLOCKER = '''
import sys


class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('numba', 'ffcv'):
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
'''


def _run_without_numba_and_ffcv(tmp_path, args):
    blocker = tmp_path / 'core_only'
    blocker.mkdir(exist_ok=True)
    (blocker / 'sitecustomize.py').write_text(BLOCKER)
    return run_tool(args, env=dict(PYTHONPATH=os.pathsep.join(
        [str(blocker), REPO, os.environ.get('PYTHONPATH', '')])))


def test_emae_quickstart_trains_with_only_the_core_dependencies(
        tiny_image_folder, tmp_path):
    """numba and ffcv belong to extras: without them ``import mmeff``
    works and the EMAE quickstart config trains on the torch DataLoader."""
    probe = _run_without_numba_and_ffcv(tmp_path, [
        PYTHON, '-c', 'import mmeff, sys; '
        "print(sorted(m for m in sys.modules if m.startswith(('numba', "
        "'ffcv'))))"])
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert probe.stdout.strip() == '[]'
    result = _run_without_numba_and_ffcv(tmp_path, [
        PYTHON, 'tools/train.py', EMAE_QUICKSTART, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options',
        f'train_dataloader.dataset.data_root={tiny_image_folder}',
        'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1'])
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert 'loss_rec' in log and 'loss_sc' in log
    assert osp.isfile(tmp_path / 'work' / 'epoch_1.pth')


def test_an_essl_config_without_the_extra_is_one_line_naming_it(
        fmnist_beton, tmp_path):
    result = _run_without_numba_and_ffcv(tmp_path, [
        PYTHON, 'tools/train.py', ESSL_CONFIG, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options',
        f'train_dataloader.path={fmnist_beton}'])
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines()
              if line.startswith('train: error:')]
    assert len(errors) == 1, result.stderr[-3000:]
    assert "install mmeff's [ffcv] extra" in errors[0]
    assert 'Traceback' not in result.stderr
