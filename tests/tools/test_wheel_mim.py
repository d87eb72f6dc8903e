"""The wheel, installed as an MMPretrain user would, works through ``mim``.

Builds the wheel from a copy of the repository, installs it (not editable)
into a fresh environment layered over this one's packages, and from a
folder outside the repository runs ``mim train``, ``mim test``, ``mim run``
and ``mim search`` on it: configs, tools and model-index.yml come from the
wheel's ``mmeff/.mim``. A wheel user's first steps are the README's: write
the bundled data with ``mim run mmeff bundled_data``, then ``mim train``.
"""
import importlib.util
import os
import os.path as osp
import pickle
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.helpers.tools import PYTHON, REPO

CONFIG = 'resnet18-cifar-w16_1xb32-squeeze-3e_fashion-mnist.py'  # bundled data
# Top-level folders that are local state, not sources; then any level.
LOCAL_STATE = {'.git', '.venv', 'data', 'work_dirs', 'build', '.pytest_cache'}
NOT_SHIPPED = shutil.ignore_patterns('*.egg-info', '__pycache__', '*.so',
                                     '.mim')


def not_shipped(folder, names):
    top = LOCAL_STATE.intersection(names) if folder == REPO else set()
    return top | NOT_SHIPPED(folder, names)


def run(cmd, cwd, env=None):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, \
        result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.fixture(scope='module')
def wheel_env(tmp_path_factory):
    """(python of a fresh environment holding the mmeff wheel, its env)."""
    assert importlib.util.find_spec('mim'), \
        'openmim is missing: install the [dev] extra (tools/setup_env.sh)'
    tmp = tmp_path_factory.mktemp('wheel')
    src, wheels, env_dir = tmp / 'src', tmp / 'wheels', tmp / 'env'
    shutil.copytree(REPO, src, ignore=not_shipped)
    run([PYTHON, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
         '--no-index', '-w', str(wheels), str(src)], cwd=tmp)
    wheel, = wheels.glob('mmeff-*.whl')
    run([sys.executable, '-m', 'venv', '--without-pip', str(env_dir)],
        cwd=tmp)
    python = str(env_dir / 'bin' / 'python')
    site = run([python, '-c', 'import site; print(site.getsitepackages()[0])'],
               cwd=tmp).strip().splitlines()[-1]
    stack = [p for p in sys.path
             if p.endswith('site-packages') and osp.isdir(p)]
    with open(osp.join(site, 'stack.pth'), 'w') as f:
        f.write('\n'.join(stack) + '\n')
    run([python, '-m', 'pip', 'install', '--no-deps', '--no-index',
         '--force-reinstall', str(wheel)], cwd=tmp)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    return python, site, env


def mim(wheel_env, cwd, *args):
    python, _, env = wheel_env
    return run([python, '-m', 'mim', *args], cwd=cwd, env=env)


def small_data(root):
    return ['--cfg-options', f'data_root={root}', 'train_cfg.max_epochs=1',
            *(f'{loader}.{key}' for loader in (
                'train_dataloader', 'val_dataloader', 'test_dataloader')
              for key in (f'dataset.data_root={root}', 'num_workers=0',
                          'persistent_workers=False'))]


def test_mim_train_then_test_a_bundled_config_from_the_wheel(
        wheel_env, tiny_image_folder, tmp_path):
    _, site, _ = wheel_env
    shipped = osp.join(site, 'mmeff', '.mim', 'configs', 'sre2l', CONFIG)
    work = tmp_path / 'work'
    log = mim(wheel_env, tmp_path, 'train', 'mmeff', CONFIG, '--work-dir',
              str(work), *small_data(tiny_image_folder))
    assert f'will use {shipped}' in log
    assert osp.join(site, 'mmeff', '.mim', 'tools', 'train.py') in log
    assert 'Epoch(train) [1][2/2]' in log
    ckpt = work / 'epoch_1.pth'
    preds = tmp_path / 'preds.pkl'
    log = mim(wheel_env, tmp_path, 'test', 'mmeff', CONFIG, '--checkpoint',
              str(ckpt), '--work-dir', str(work), '--out', str(preds),
              *small_data(tiny_image_folder))
    assert 'accuracy/top1' in log
    with open(preds, 'rb') as f:
        assert len(pickle.load(f)) == 20  # every held-out image


def test_mim_run_and_search_find_the_wheel_tools_and_model_index(
        wheel_env, tmp_path):
    python, site, env = wheel_env
    from tests.downstream.helpers import mae_vit, pretraining_checkpoint
    ckpt = pretraining_checkpoint(tmp_path / 'mae.pth', mae_vit(dict(
        embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        16, 4))
    log = mim(wheel_env, tmp_path, 'run', 'mmeff', 'export_vit', ckpt,
              str(tmp_path / 'vit.pth'), '--format', 'mmpretrain',
              '--num-heads', '2')
    assert osp.join(site, 'mmeff', '.mim', 'tools', 'model_converters',
                    'export_vit.py') in log
    assert '30/30 keys matched (100.0%)' in log
    log = mim(wheel_env, tmp_path, 'search', 'mmeff')
    for name in ('emae_vit-b_800e', 'dailymae_vit-b-p16_8xb512-800e_in1k',
                 'empssl_resnet18-cifar_1xb100-n20-1e_cifar10',
                 'resnet18-cifar-w16_1xb32-squeeze-3e_fashion-mnist'):
        assert f'config id: {name}' in log


def readme_mim_commands():
    """The README's ``mim run mmeff bundled_data`` and ``mim train`` lines
    of its wheel section, as argument lists (comments dropped)."""
    with open(osp.join(REPO, 'README.md')) as f:
        text = f.read()
    lines = [shlex.split(line, comments=True)
             for line in re.findall(r'^mim .*$', text, re.M)]
    data = next(c for c in lines if c[1:4] == ['run', 'mmeff', 'bundled_data'])
    train = next(c for c in lines if c[1] == 'train' and '--launcher' not in c)
    return data, train


def test_readme_mim_example_trains_on_the_bundled_data_from_the_wheel(
        wheel_env, tmp_path):
    _, site, _ = wheel_env
    data, train = readme_mim_commands()
    # Fewer images than the default, to keep the run short.
    log = mim(wheel_env, tmp_path, *data[1:], '--train-per-class', '16',
              '--val-per-class', '4')
    assert osp.join(site, 'mmeff', '.mim', 'tools', 'dataset_converters',
                    'bundled_data.py') in log
    root = tmp_path / 'data' / 'fashion-mnist-mini'
    assert (root / 'train.beton').is_file() and (root / 'val' / 'bag').is_dir()
    log = mim(wheel_env, tmp_path, *train[1:], '--cfg-options',
              'train_cfg.max_epochs=1')
    assert "runner_type = 'mmpretrain.ESSLRunner'" in log
    assert 'Epoch(train) [1][10/10]' in log  # 160 images / batch 16
    work_dir = train[train.index('--work-dir') + 1]
    assert (tmp_path / work_dir / 'epoch_1.pth').is_file()
