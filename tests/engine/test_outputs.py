"""Atomic writes, refusing to overwrite, and choosing an intact checkpoint."""
import os
import time

import pytest
import torch

from mmeff.engine.outputs import (
    AtomicLocalBackend,
    OutputDirError,
    OutputExistsError,
    atomic_output,
    check_writable_dir,
    is_intact_checkpoint,
    newest_intact_checkpoint,
    refuse_existing,
)


def test_atomic_output_replaces_only_on_success(tmp_path):
    out = tmp_path / 'out.bin'
    out.write_bytes(b'old')
    with pytest.raises(RuntimeError):
        with atomic_output(out) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'half')
            raise RuntimeError('killed')
    assert out.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['out.bin']  # no temporary left
    with atomic_output(out) as tmp, open(tmp, 'wb') as f:
        f.write(b'new')
    assert out.read_bytes() == b'new' and os.listdir(tmp_path) == ['out.bin']
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes


def test_atomic_backend_puts_bytes_and_text(tmp_path):
    backend = AtomicLocalBackend()
    backend.put(b'\x00\x01', tmp_path / 'sub' / 'a.pth')
    backend.put_text('hello', tmp_path / 'b.txt')
    assert (tmp_path / 'sub' / 'a.pth').read_bytes() == b'\x00\x01'
    assert (tmp_path / 'b.txt').read_text() == 'hello'


def test_refuse_existing_names_the_file_and_the_flag(tmp_path):
    out = tmp_path / 'x.pth'
    refuse_existing(out)  # absent: fine
    out.write_bytes(b'')
    with pytest.raises(OutputExistsError, match=f'{out} already exists; '
                       'pass --overwrite'):
        refuse_existing(out)
    refuse_existing(out, overwrite=True)


def test_work_dir_under_a_file_is_refused(tmp_path):
    (tmp_path / 'f').write_text('')
    with pytest.raises(OutputDirError,
                       match=f'cannot write to {tmp_path}/f/w'):
        check_writable_dir(str(tmp_path / 'f' / 'w'))
    check_writable_dir(str(tmp_path / 'new' / 'w'))
    assert os.listdir(tmp_path / 'new' / 'w') == []


def test_truncated_or_flipped_checkpoints_are_not_intact(tmp_path):
    path = tmp_path / 'c.pth'
    torch.save({'state_dict': {'w': torch.arange(1000.)}}, path)
    data = path.read_bytes()
    assert is_intact_checkpoint(path)
    path.write_bytes(data[:len(data) - 100])
    assert not is_intact_checkpoint(path)
    flipped = bytearray(data)
    at = data.index(torch.arange(1000.).numpy().tobytes()[400:408])
    flipped[at] ^= 0xFF
    path.write_bytes(bytes(flipped))
    assert not is_intact_checkpoint(path)
    assert not is_intact_checkpoint(tmp_path / 'missing.pth')


def _ckpt(path, value):
    torch.save({'state_dict': {'w': torch.tensor(value)}}, path)
    time.sleep(0.02)  # distinct (coarse-clock) modification times


def test_newest_intact_checkpoint_prefers_last_checkpoint(tmp_path):
    for epoch in (1, 2, 3):
        _ckpt(tmp_path / f'epoch_{epoch}.pth', epoch)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    assert newest_intact_checkpoint(str(tmp_path)) == (
        str(tmp_path / 'epoch_2.pth'), [])


def test_newest_intact_checkpoint_skips_truncated_ones(tmp_path):
    for epoch in (1, 2, 3):
        _ckpt(tmp_path / f'epoch_{epoch}.pth', epoch)
    for epoch in (2, 3):
        (tmp_path / f'epoch_{epoch}.pth').write_bytes(b'PK\x03\x04 cut')
        time.sleep(0.02)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_3.pth'))
    path, skipped = newest_intact_checkpoint(str(tmp_path))
    assert path == str(tmp_path / 'epoch_1.pth')
    assert skipped == [str(tmp_path / f'epoch_{e}.pth') for e in (3, 2)]
    assert newest_intact_checkpoint(str(tmp_path / 'empty')) == (None, [])
