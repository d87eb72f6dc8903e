"""Recover: synthesise class-folder PNGs from a teacher checkpoint."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmeff.condense import (
    BNStatsMatcher,
    CondenseError,
    NoBatchNormError,
    recover,
    recover_batch,
)
from mmeff.condense.presets import RECOVER_BETAS, RECOVER_PRESETS, default_preset
from mmeff.condense.recover import SIDECAR, cosine_lr, jitter_batch, to_uint8_images
from mmeff.condense.teacher import build_teacher
from tests.condense.conftest import GN_TEACHER_CFG, TEACHER_CFG, load_tool


def objective(model, x, targets):
    """CE and BN-matching terms of ``x`` itself (no jitter)."""
    with torch.no_grad(), BNStatsMatcher(model) as matcher:
        logits = model(x, mode='tensor')
        return F.cross_entropy(logits, targets).item(), matcher.loss().item()


def test_recovery_reduces_the_loss(teacher_ckpt):
    teacher = build_teacher(TEACHER_CFG, teacher_ckpt)
    model, mean, std = teacher.model, teacher.mean, teacher.std
    targets = list(range(10))
    start, _ = recover_batch(model, targets, mean, std, image_size=16,
                             iterations=0, rng=np.random.default_rng(4))
    final, history = recover_batch(model, targets, mean, std, image_size=16,
                                   iterations=30, crop_scale=(0.08, 1.),
                                   flip=True, shift=(-2, 2),
                                   rng=np.random.default_rng(4))
    t = torch.tensor(targets)
    assert len(history) == 30
    ce0, bn0 = objective(model, start, t)
    ce1, bn1 = objective(model, final, t)
    assert ce1 < ce0 and bn1 < 0.8 * bn0
    assert ce1 + 0.01 * bn1 < 0.9 * (ce0 + 0.01 * bn0)
    # Images stay inside the range that maps to 0-255 pixels.
    assert final.min() >= ((0 - mean) / std).min() - 1e-5
    assert final.max() <= ((255 - mean) / std).max() + 1e-5


def test_cosine_schedule_and_jitter_keep_shapes():
    assert cosine_lr(0.25, 0, 100) == pytest.approx(0.25)
    assert cosine_lr(0.25, 50, 100) == pytest.approx(0.125)
    x = torch.randn(3, 3, 16, 16, requires_grad=True)
    out = jitter_batch(x, np.random.default_rng(0), (0.08, 1.), True, (0, 2))
    assert out.shape == x.shape
    out.sum().backward()
    assert x.grad is not None


def test_small_image_jitter_is_only_a_roll_of_0_to_4_pixels():
    # The released CIFAR recover: no crop, no flip, torch.roll by
    # random.randint(0, 4) per axis.
    x = torch.randn(2, 3, 16, 16)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        out = jitter_batch(x, rng, None, False, (0, 4))
        match = [(dy, dx) for dy in range(16) for dx in range(16)
                 if torch.equal(out, torch.roll(x, (dy, dx), (2, 3)))]
        assert len(match) == 1
        seen.add(match[0])
    assert seen == {(dy, dx) for dy in range(5) for dx in range(5)}


def test_presets_are_the_released_settings():
    # VILA-Lab/SRe2L: recover/recover.sh + data_synthesis.py defaults,
    # *small_dataset/recover_cifar.sh + .py, recover_tiny.sh + .py.
    assert RECOVER_PRESETS == {
        'imagenet': dict(iterations=4000, lr=0.25, batch_size=100,
                         r_bn=0.01, first_bn_multiplier=10.,
                         crop_scale=(0.08, 1.), flip=True, shift=(0, 32)),
        'cifar': dict(iterations=1000, lr=0.25, batch_size=100, r_bn=0.01,
                      first_bn_multiplier=10., crop_scale=None, flip=False,
                      shift=(0, 4)),
        'tiny': dict(iterations=4000, lr=0.1, batch_size=100, r_bn=1.,
                     first_bn_multiplier=10., crop_scale=(0.08, 1.),
                     flip=True, shift=(-4, 4))}
    assert RECOVER_BETAS == (0.5, 0.9)
    assert [default_preset(s) for s in (16, 28, 32, 64, 224)] == [
        'cifar', 'cifar', 'cifar', 'tiny', 'imagenet']


def test_recover_defaults_to_the_small_image_recipe(recovered):
    with open(osp.join(recovered, SIDECAR)) as f:
        settings = json.load(f)
    # 16-px teacher: the CIFAR recipe, except the iterations and batch the
    # fixture sets.
    assert settings['preset'] == 'cifar'
    assert (settings['crop_scale'], settings['flip'], settings['shift'],
            settings['lr'], settings['r_bn'],
            settings['first_bn_multiplier']) == (None, False, [0, 4], 0.25,
                                                 0.01, 10.)
    assert (settings['iterations'], settings['batch_size']) == (4, 10)


def test_a_named_preset_and_overrides_are_recorded(teacher_ckpt, tmp_path,
                                                   tiny_image_folder):
    out = str(tmp_path / 'imagenet')
    info = recover(TEACHER_CFG, teacher_ckpt, out, 1, preset='imagenet',
                   iterations=2, flip=False,
                   classes_from=osp.join(tiny_image_folder, 'train'),
                   progress=False)
    assert info['preset'] == 'imagenet'
    assert (info['iterations'], info['flip'], info['crop_scale'],
            info['shift'], info['lr'], info['batch_size']) == (
        2, False, [0.08, 1.], [0, 32], 0.25, 100)
    with pytest.raises(CondenseError, match="unknown recover preset 'x'"):
        recover(TEACHER_CFG, teacher_ckpt, str(tmp_path / 'x'), 1,
                preset='x', classes_from=osp.join(tiny_image_folder,
                                                  'train'))


def test_saved_pngs_read_back_as_the_synthesised_tensor(recovered,
                                                        teacher_ckpt):
    # Read a written image the way a training pipeline does
    # (LoadImageFromFile -> the teacher's preprocessor): it must equal the
    # clipped synthetic tensor up to 8-bit rounding.
    from mmcv.transforms import LoadImageFromFile
    teacher = build_teacher(TEACHER_CFG, teacher_ckpt)
    model, mean, std = teacher.model, teacher.mean, teacher.std
    x = torch.randn(1, 3, 16, 16) * 2
    pixels = to_uint8_images(x, mean, std, 'RGB')[0]
    path = osp.join(recovered, 'roundtrip.png')
    from PIL import Image
    Image.fromarray(pixels).save(path)
    img = LoadImageFromFile()(dict(img_path=path))['img']
    back = model.data_preprocessor(dict(inputs=torch.from_numpy(
        img.copy()).permute(2, 0, 1)[None]))['inputs']
    clipped = torch.maximum(torch.minimum(x, (255 - mean) / std),
                            (0 - mean) / std)
    assert (back - clipped).abs().max() <= 0.51 / std.min() + 1e-4
    os.remove(path)


def test_writes_class_folders_and_a_sidecar(recovered, tiny_image_folder):
    classes = sorted(os.listdir(osp.join(tiny_image_folder, 'train')))
    assert sorted(os.listdir(osp.join(recovered, 'train'))) == classes
    for name in classes:
        assert sorted(os.listdir(osp.join(recovered, 'train', name))) == [
            'ipc_00000.png', 'ipc_00001.png']
    with open(osp.join(recovered, 'recover.json')) as f:
        meta = json.load(f)
    assert meta['ipc'] == 2 and meta['classes'] == classes
    assert (meta['lr'], meta['betas'], meta['r_bn'],
            meta['first_bn_multiplier']) == (0.25, [0.5, 0.9], 0.01, 10.)
    assert meta['image_size'] == 16  # read from the teacher's pipeline


def test_a_rerun_resumes_and_matches_an_uninterrupted_run(
        teacher_ckpt, tiny_image_folder, tmp_path):
    kw = dict(classes_from=osp.join(tiny_image_folder, 'train'),
              iterations=3, batch_size=10, progress=False)
    part, whole = str(tmp_path / 'part'), str(tmp_path / 'whole')
    first = recover(TEACHER_CFG, teacher_ckpt, part, 1, **kw)
    assert (first['written'], first['skipped']) == (10, 0)
    before = {n: os.path.getmtime(osp.join(part, 'train', n,
                                           'ipc_00000.png'))
              for n in os.listdir(osp.join(part, 'train'))}
    second = recover(TEACHER_CFG, teacher_ckpt, part, 2, **kw)
    assert (second['written'], second['skipped']) == (10, 10)
    for name, mtime in before.items():  # finished images are not redone
        assert os.path.getmtime(
            osp.join(part, 'train', name, 'ipc_00000.png')) == mtime
    recover(TEACHER_CFG, teacher_ckpt, whole, 2, **kw)
    for name in before:
        for i in (0, 1):
            rel = osp.join('train', name, f'ipc_{i:05d}.png')
            with open(osp.join(part, rel), 'rb') as a, \
                    open(osp.join(whole, rel), 'rb') as b:
                assert a.read() == b.read(), rel


def test_resuming_with_other_settings_is_refused(recovered, teacher_ckpt,
                                                 tiny_image_folder):
    with pytest.raises(CondenseError, match=r'recover.json: .*iterations'):
        recover(TEACHER_CFG, teacher_ckpt, recovered, 2,
                classes_from=osp.join(tiny_image_folder, 'train'),
                iterations=5, batch_size=10, progress=False)


@pytest.mark.parametrize('ipc', [0, -3])
def test_ipc_must_be_positive(ipc, teacher_ckpt, tmp_path):
    with pytest.raises(CondenseError, match='ipc must be a positive integer'):
        recover(TEACHER_CFG, teacher_ckpt, str(tmp_path), ipc)


def test_missing_class_folders_are_reported(teacher_ckpt, tmp_path,
                                            tiny_image_folder):
    with pytest.raises(CondenseError, match='class folder not found: .*nope'):
        recover(TEACHER_CFG, teacher_ckpt, str(tmp_path / 'o'), 1,
                classes_from=str(tmp_path / 'nope'))
    os.makedirs(tmp_path / 'three' / 'a')
    os.makedirs(tmp_path / 'three' / 'b')
    with pytest.raises(CondenseError, match='2 class folders, but the '
                       'teacher has 10 classes'):
        recover(TEACHER_CFG, teacher_ckpt, str(tmp_path / 'o'), 1,
                classes_from=str(tmp_path / 'three'))


def test_teacher_without_batchnorm_is_refused(tmp_path, tiny_image_folder):
    from mmeff.condense import load_teacher
    model, _ = load_teacher(GN_TEACHER_CFG, None)
    ckpt = str(tmp_path / 'gn.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    with pytest.raises(NoBatchNormError,
                       match='tiny_teacher_groupnorm.py has no BatchNorm'):
        recover(GN_TEACHER_CFG, ckpt, str(tmp_path / 'o'), 1,
                classes_from=osp.join(tiny_image_folder, 'train'))


def test_cli_reports_bad_input_in_one_line(teacher_ckpt, tmp_path, capsys):
    recover_main = load_tool('tools/condense/recover.py').main
    assert recover_main([TEACHER_CFG, teacher_ckpt, str(tmp_path), '--ipc',
                         '0']) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        'recover: error: ipc must be a positive integer, got 0')
    assert recover_main([TEACHER_CFG, str(tmp_path / 'no.pth'),
                         str(tmp_path), '--ipc', '1']) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f'recover: error: checkpoint not found: {tmp_path / "no.pth"}')


def test_cli_recovers_and_prints_throughput(teacher_ckpt, tmp_path, capsys,
                                            tiny_image_folder):
    recover_main = load_tool('tools/condense/recover.py').main
    assert recover_main([TEACHER_CFG, teacher_ckpt, str(tmp_path), '--ipc',
                         '1', '--iterations', '2', '--classes-from',
                         osp.join(tiny_image_folder, 'train'),
                         '--preset', 'tiny', '--no-crop', '--jitter', '3',
                         '--no-progress']) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out['written'] == 10 and out['image_iterations_per_second'] > 0
    assert out['peak_rss_mib'] > 0 and out['preset'] == 'tiny'
    with open(tmp_path / SIDECAR) as f:
        settings = json.load(f)
    assert (settings['crop_scale'], settings['flip'], settings['shift'],
            settings['lr'], settings['r_bn']) == (None, True, [0, 3], 0.1, 1.)


def test_grayscale_recovery_writes_equal_channels(teacher_ckpt, tmp_path,
                                                  tiny_image_folder):
    from PIL import Image
    recover(TEACHER_CFG, teacher_ckpt, str(tmp_path), 1, grayscale=True,
            classes_from=osp.join(tiny_image_folder, 'train'), iterations=2,
            batch_size=10, progress=False)
    img = np.asarray(Image.open(tmp_path / 'train' / 'bag' / 'ipc_00000.png'))
    assert img.shape == (16, 16, 3) and img.std() > 0
    assert (img == img[..., :1]).all()


def test_folder_not_written_by_recover_is_refused_unless_overwrite(
        teacher_ckpt, tmp_path, tiny_image_folder, capsys):
    recover_main = load_tool('tools/condense/recover.py').main
    own = tmp_path / 'train' / 'mine' / 'photo.png'
    own.parent.mkdir(parents=True)
    own.write_bytes(b'not made by recover')
    args = [TEACHER_CFG, teacher_ckpt, str(tmp_path), '--ipc', '1',
            '--iterations', '1', '--classes-from',
            osp.join(tiny_image_folder, 'train'), '--no-progress']
    assert recover_main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('recover: error: ')
    assert 'holds no recover.json' in err[0] and '--overwrite' in err[0]
    assert sorted(os.listdir(tmp_path)) == ['train']
    assert recover_main(args + ['--overwrite']) == 0
    assert own.read_bytes() == b'not made by recover'  # not recover's file
    assert osp.isfile(tmp_path / SIDECAR)


def test_overwrite_replaces_images_made_with_other_settings(
        teacher_ckpt, tmp_path, tiny_image_folder):
    kw = dict(classes_from=osp.join(tiny_image_folder, 'train'),
              batch_size=10, progress=False)
    recover(TEACHER_CFG, teacher_ckpt, str(tmp_path), 2, iterations=1, **kw)
    recover(TEACHER_CFG, teacher_ckpt, str(tmp_path), 1, iterations=2,
            overwrite=True, **kw)
    with open(tmp_path / SIDECAR) as f:
        assert json.load(f)['iterations'] == 2
    # ipc_00001 of the old 2-per-class set must not outlive it.
    assert sorted(p.name for p in tmp_path.glob('train/*/*.png')) == \
        ['ipc_00000.png'] * 10
