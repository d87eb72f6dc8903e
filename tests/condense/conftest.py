import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

HERE = osp.dirname(osp.abspath(__file__))
TEACHER_CFG = osp.join(HERE, 'configs', 'tiny_teacher.py')
GN_TEACHER_CFG = osp.join(HERE, 'configs', 'tiny_teacher_groupnorm.py')
STUDENT_CFG = osp.join(HERE, 'configs', 'tiny_student.py')


def load_tool(path):
    """Import a repository tool script as a module (to call its main)."""
    import importlib.util

    from tests.helpers.tools import REPO
    spec = importlib.util.spec_from_file_location(
        'tool_' + osp.basename(path)[:-3], osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def real_batch(folder, size=16):
    """Every training image of ``folder``, resized, as BGR uint8 NCHW."""
    from mmeff.condense.teacher import class_folders, list_images
    train = osp.join(folder, 'train')
    arrays = []
    for path, _ in list_images(train, class_folders(train)):
        img = Image.open(path).convert('RGB').resize((size, size))
        arrays.append(np.asarray(img)[..., ::-1])  # as LoadImageFromFile
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


@pytest.fixture(scope='package', autouse=True)
def one_torch_thread():
    # On a shared, oversubscribed CPU host, OpenMP spin-waiting makes these
    # tiny networks an order of magnitude slower with more threads.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='package')
def teacher_ckpt(tiny_image_folder, tmp_path_factory):
    """The tiny teacher with BN running statistics of real images, saved
    as an MMEngine-style checkpoint."""
    from mmeff.condense import load_teacher
    torch.manual_seed(0)
    model, _ = load_teacher(TEACHER_CFG, None)
    data = model.data_preprocessor(dict(inputs=real_batch(tiny_image_folder)))
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative: running stats = this batch's
    with torch.no_grad():
        model(data['inputs'], mode='tensor')
    path = str(tmp_path_factory.mktemp('teacher') / 'teacher.pth')
    torch.save(dict(meta=dict(epoch=1), state_dict=model.state_dict()), path)
    return path


@pytest.fixture(scope='package')
def recovered(tiny_image_folder, teacher_ckpt, tmp_path_factory):
    """A condensed set: 2 images per class, 16x16, a few steps each."""
    from mmeff.condense import recover
    out = str(tmp_path_factory.mktemp('recovered'))
    recover(TEACHER_CFG, teacher_ckpt, out, 2,
            classes_from=osp.join(tiny_image_folder, 'train'),
            iterations=4, batch_size=10, progress=False)
    return out


@pytest.fixture(scope='package')
def relabelled(recovered, teacher_ckpt, tmp_path_factory):
    """Soft labels of the condensed set for 2 student epochs, seed 0."""
    from mmeff.condense import relabel
    out = str(tmp_path_factory.mktemp('relabel'))
    info = relabel(TEACHER_CFG, teacher_ckpt, recovered, out, 2, seed=0,
                   progress=False)
    return out, info
