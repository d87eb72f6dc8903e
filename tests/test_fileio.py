"""The one atomic write every tool uses: whole or not at all."""
import os
import signal
import subprocess
import time

import pytest

from mmeff.fileio import (
    OutputRaceError,
    atomic_output,
    atomic_write_bytes,
    stale_temporaries,
)
from tests.helpers.tools import PYTHON, REPO

# Two payloads the writer alternates between; 8 MiB each so a kill is likely
# to land mid-write.
_WRITER = '''
import sys
from mmeff.fileio import atomic_write_bytes
out = sys.argv[1]
payloads = [bytes([65]) * (8 << 20), bytes([66]) * (8 << 20)]
i = 0
while True:
    atomic_write_bytes(out, payloads[i % 2])
    i += 1
    if i == 2:
        print('ready', flush=True)
'''


def test_sigkill_mid_write_leaves_old_or_new_bytes_never_a_mix(tmp_path):
    out = tmp_path / 'out.bin'
    for delay in (0.0, 0.013, 0.031, 0.057):
        proc = subprocess.Popen([PYTHON, '-c', _WRITER, str(out)],
                                stdout=subprocess.PIPE, cwd=REPO,
                                env=dict(os.environ, PYTHONPATH=REPO))
        assert proc.stdout.readline().strip() == b'ready'
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = out.read_bytes()
        assert len(data) == 8 << 20
        assert data in (b'A' * (8 << 20), b'B' * (8 << 20))
        # A kill can leave one temporary file, hidden, recognisable.
        stale = stale_temporaries(str(tmp_path))
        assert len(stale) <= 1
        for path in stale:
            os.remove(path)


def test_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    out = tmp_path / 'out.txt'
    out.write_text('old')
    with pytest.raises(RuntimeError, match='boom'):
        with atomic_output(str(out)) as tmp, open(tmp, 'w') as f:
            f.write('half')
            raise RuntimeError('boom')
    assert out.read_text() == 'old'
    assert os.listdir(tmp_path) == ['out.txt']


def test_exclusive_write_never_replaces_a_file_that_appeared(tmp_path):
    out = tmp_path / 'out.txt'
    with pytest.raises(OutputRaceError, match=f'{out} appeared while'):
        with atomic_output(str(out), exclusive=True) as tmp:
            with open(tmp, 'w') as f:
                f.write('mine')
            out.write_text('theirs')  # another writer got there first
    assert out.read_text() == 'theirs'
    assert os.listdir(tmp_path) == ['out.txt']
    atomic_write_bytes(str(tmp_path / 'new.txt'), b'x', exclusive=True)
    assert (tmp_path / 'new.txt').read_bytes() == b'x'
