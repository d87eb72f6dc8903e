"""Recover and relabel over damaged or foreign files: bad images are redone
and counted, relabel refuses them in one line, a foreign teacher checkpoint
is one line."""
import json
import os
import os.path as osp

import torch
from PIL import Image

from tests.condense.conftest import GN_TEACHER_CFG, TEACHER_CFG, load_tool


def _damage(train):
    """Truncate one image, empty another, replace a third by a foreign PNG
    (another size) and a fourth by a grayscale one; returns their paths."""
    names = sorted(os.listdir(train))
    paths = [osp.join(train, n, 'ipc_00000.png') for n in names[:4]]
    with open(paths[0], 'r+b') as f:
        f.truncate(os.path.getsize(paths[0]) // 2)
    open(paths[1], 'wb').close()
    Image.new('RGB', (7, 7)).save(paths[2])
    Image.new('L', (16, 16)).save(paths[3])
    return paths


def test_resume_redoes_truncated_empty_and_foreign_images(
        teacher_ckpt, tiny_image_folder, tmp_path, capsys):
    """Case 9: rerun over 4 damaged PNGs: exit 0, ``"redone": 4``, each
    then decodes at the right size and mode, the intact ones are kept; then
    relabel reads the folder."""
    recover_main = load_tool('tools/condense/recover.py').main
    out = str(tmp_path / 'out')
    args = [TEACHER_CFG, teacher_ckpt, out, '--ipc', '1', '--iterations',
            '2', '--batch-size', '10', '--classes-from',
            osp.join(tiny_image_folder, 'train'), '--no-progress']
    assert recover_main(args) == 0
    damaged = _damage(osp.join(out, 'train'))
    train = osp.join(out, 'train')
    intact = {n: open(osp.join(train, n, 'ipc_00000.png'), 'rb').read()
              for n in sorted(os.listdir(train))[4:]}
    capsys.readouterr()
    assert recover_main(args) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (report['written'], report['skipped'], report['redone']) == \
        (4, 6, 4)
    for path in damaged:
        with Image.open(path) as img:
            img.load()
            assert (img.format, img.mode, img.size) == ('PNG', 'RGB',
                                                        (16, 16))
    for name, data in intact.items():
        assert open(osp.join(train, name, 'ipc_00000.png'),
                    'rb').read() == data
    relabel_main = load_tool('tools/condense/relabel.py').main
    assert relabel_main([TEACHER_CFG, teacher_ckpt, out,
                         str(tmp_path / 'labels'), '--epochs', '1',
                         '--no-progress']) == 0


def test_relabel_refuses_an_unreadable_image_in_one_line(
        teacher_ckpt, recovered, tmp_path, capsys):
    """Case 9: relabel over a truncated PNG: exit 2, one line naming it,
    no relabel file written."""
    import shutil
    folder = str(tmp_path / 'copy')
    shutil.copytree(recovered, folder)
    bad = _damage(osp.join(folder, 'train'))[0]
    relabel_main = load_tool('tools/condense/relabel.py').main
    labels = tmp_path / 'labels'
    assert relabel_main([TEACHER_CFG, teacher_ckpt, folder, str(labels),
                         '--epochs', '1', '--no-progress']) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith(f'relabel: error: {bad}: not a readable image (')
    assert line.endswith('rerun recover on its folder to redo damaged '
                         'images')
    assert not labels.exists() or not os.listdir(labels)


def test_another_models_checkpoint_as_teacher_is_one_line(
        teacher_ckpt, tmp_path, capsys):
    """Case 16: the teacher config's model cannot take the checkpoint's
    weights: one line, not torch's list of every key; nothing written."""
    from mmeff.condense import load_teacher
    model, _ = load_teacher(GN_TEACHER_CFG, None)
    foreign = str(tmp_path / 'gn.pth')
    torch.save(dict(state_dict=model.state_dict()), foreign)
    recover_main = load_tool('tools/condense/recover.py').main
    out = tmp_path / 'out'
    assert recover_main([TEACHER_CFG, foreign, str(out), '--ipc', '1',
                         '--no-progress']) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f'recover: error: {foreign}: not weights of '
                               f'the model {TEACHER_CFG} builds (')
    assert lines[0].endswith('pass the checkpoint the teacher was squeezed '
                             'with')
    assert not out.exists()


def test_an_output_folder_under_a_file_names_the_file(
        teacher_ckpt, tiny_image_folder, tmp_path, capsys):
    """Case 16: an output path under a regular file names that file, not
    ``[Errno 17] File exists`` on a folder below it."""
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    recover_main = load_tool('tools/condense/recover.py').main
    assert recover_main([TEACHER_CFG, teacher_ckpt, str(blocker), '--ipc',
                         '1', '--classes-from',
                         osp.join(tiny_image_folder, 'train'),
                         '--no-progress']) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f'recover: error: cannot write to {blocker} (File exists) because '
        f'{blocker} is a file, not a folder; choose another output folder')
    assert blocker.read_text() == 'x'
