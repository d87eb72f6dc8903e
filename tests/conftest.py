import os.path as osp
import signal

import pytest

from tests.helpers.tools import REPO

# A test run started in the background without job control (`cmd &` in a
# script) ignores SIGINT, and the tools it starts would inherit that, so the
# Ctrl-C tests would never interrupt them. Handled (not ignored) here, SIGINT
# is back to its default in every child after exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope='session')
def repo_root():
    return REPO


@pytest.fixture(scope='session')
def tiny_image_folder(tmp_path_factory):
    """40 train / 20 val Fashion-MNIST PNGs in class folders."""
    from mmeff.data import prepare_fashion_mnist
    root = str(tmp_path_factory.mktemp('fmnist'))
    prepare_fashion_mnist(root, train_per_class=4, val_per_class=2)
    return root


@pytest.fixture(scope='session')
def fmnist_beton(tiny_image_folder, tmp_path_factory):
    """The bundled Fashion-MNIST train subset (40 PNGs) as raw records."""
    from mmeff.data.essl import write_essl
    out = str(tmp_path_factory.mktemp('essl') / 'fmnist.beton')
    write_essl(osp.join(tiny_image_folder, 'train'), out, write_mode='raw',
               num_workers=1, progress=False)
    return out


@pytest.fixture(autouse=True, scope='session')
def mmpretrain_scope():
    from mmpretrain.utils import register_all_modules
    register_all_modules(init_default_scope=True)
