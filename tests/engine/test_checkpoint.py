"""MMEngine checkpoints load under torch's weights_only default, safely, and
``import mmeff`` leaves MMEngine's own checkpoint loading as it is."""
import json
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import mmeff  # noqa: F401  allow-lists MMEngine's checkpoint types
from mmeff.engine.checkpoint import (
    CheckpointError,
    _history_buffer_getattr,
    check_checkpoint,
    load_local_checkpoint,
)
from tests.helpers.tools import PYTHON, assert_ok, run_tool


def save_mmengine_style_checkpoint(path):
    hub = MessageHub.get_instance('test_checkpoint')
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/loss', np.float64(0.25))
    hub.update_info('epoch_arr', np.arange(3))
    torch.save({'meta': {'epoch': 1, 'seed': np.int64(3)},
                'state_dict': {'w': torch.ones(2)},
                'message_hub': hub.state_dict()}, path)


def test_message_hub_checkpoint_loads_with_weights_only(tmp_path):
    path = tmp_path / 'ckpt.pth'
    save_mmengine_style_checkpoint(path)
    ckpt = torch.load(path, weights_only=True)
    buf = ckpt['message_hub']['log_scalars']['train/loss']
    assert type(buf) is HistoryBuffer
    assert buf.mean() == pytest.approx(0.375)
    assert buf.statistics('max') == pytest.approx(0.5)
    assert ckpt['meta']['seed'] == 3
    # Saved again, it names MMEngine's class only: no mmeff type leaks in.
    assert b'mmeff' not in pickle.dumps(buf, protocol=2)


def test_getattr_stand_in_only_resolves_history_buffer_statistics():
    assert _history_buffer_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError, match='only the statistics'):
        _history_buffer_getattr(HistoryBuffer, '__init__')
    with pytest.raises(pickle.UnpicklingError):
        _history_buffer_getattr(torch, 'load')


def save_crafted_checkpoint(path, monkeypatch):
    """A HistoryBuffer whose pickled statistics table maps 'mean' to max."""
    buf = HistoryBuffer([1.0, 3.0], [1, 1])
    with monkeypatch.context() as patch:
        patch.setattr(HistoryBuffer, '__getstate__', lambda self: dict(
            self.__dict__, statistics_methods={'mean': HistoryBuffer.max}))
        torch.save({'message_hub': {'log_scalars': {'x': buf}}}, path)


CRAFTED_LOAD = """
import sys, torch
from mmengine.logging import HistoryBuffer
if sys.argv[2] == 'mmeff':
    import mmeff
try:
    torch.load(sys.argv[1], weights_only=sys.argv[2] == 'mmeff')
    print('loaded')
except Exception as err:
    print(type(err).__name__)
print('mean', HistoryBuffer([1.0, 3.0], [1, 1]).statistics('mean'))
"""


def test_crafted_checkpoint_cannot_rewrite_history_buffer_statistics(
        tmp_path, monkeypatch):
    path = tmp_path / 'crafted.pth'
    save_crafted_checkpoint(path, monkeypatch)
    # Control: unpickled by MMEngine's own __setstate__, the file rewrites the
    # process-wide table, so every buffer's mean becomes its maximum.
    plain = run_tool([PYTHON, '-c', CRAFTED_LOAD, str(path), 'pickle'])
    assert_ok(plain)
    assert plain.stdout.split() == ['loaded', 'mean', '3.0']
    # With mmeff's allow-list the load is refused and the table is untouched.
    safe = run_tool([PYTHON, '-c', CRAFTED_LOAD, str(path), 'mmeff'])
    assert_ok(safe)
    assert safe.stdout.split() == ['UnpicklingError', 'mean', '2.0']
    with pytest.raises(CheckpointError, match='rewrite .* statistic .mean.'):
        load_local_checkpoint(str(path))
    assert HistoryBuffer._statistics_methods['mean'] is HistoryBuffer.mean


def test_other_globals_stay_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'fn': pickle.dumps}, path)
    with pytest.raises(CheckpointError, match='allow-list'):
        load_local_checkpoint(str(path))


def test_truncated_checkpoint_error_names_file(tmp_path):
    path = tmp_path / 'ckpt.pth'
    save_mmengine_style_checkpoint(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match='truncated') as info:
        check_checkpoint(str(path))
    assert str(path) in str(info.value)
    assert '\n' not in str(info.value)


def test_missing_checkpoint_error_names_file(tmp_path):
    with pytest.raises(CheckpointError, match='not found'):
        check_checkpoint(str(tmp_path / 'missing.pth'))


def test_legacy_format_checkpoint_passes_the_check(tmp_path):
    path = tmp_path / 'legacy.pth'
    torch.save({'state_dict': {'w': torch.arange(3.)}}, path,
               _use_new_zipfile_serialization=False)
    check_checkpoint(str(path))  # no error: legacy files are read in full


UPSTREAM_LOAD = """
import json, logging, sys
if sys.argv[1] == 'mmeff':
    import mmeff
from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import CheckpointLoader
records = []
handler = logging.Handler()
handler.emit = lambda record: records.append(record.getMessage())
MMLogger.get_instance('mmengine').addHandler(handler)
out = {}
for name in sys.argv[2:]:
    try:
        ckpt = CheckpointLoader.load_checkpoint(name, map_location='cpu')
        out[name] = {k: v.tolist() for k, v in ckpt['state_dict'].items()}
    except Exception as err:
        out[name] = type(err).__name__
out['log'] = [r.split(' from path')[0] for r in records if 'Loads' in r]
print(json.dumps(out, sort_keys=True))
"""


def test_mmengine_checkpoint_loader_is_unchanged_by_import_mmeff(tmp_path):
    """Same exception types and tensors; the allow-list is the one change."""
    from mmengine.runner.checkpoint import save_checkpoint
    state = {'w': torch.arange(4.).reshape(2, 2), 'b': torch.tensor([7.])}
    legacy, mmengine, hub = (str(tmp_path / n) for n in
                             ('legacy.pth', 'mmengine.pth', 'hub.pth'))
    torch.save({'state_dict': state}, legacy,
               _use_new_zipfile_serialization=False)
    save_checkpoint({'meta': {'epoch': 1}, 'state_dict': state}, mmengine)
    save_mmengine_style_checkpoint(hub)
    missing = str(tmp_path / 'missing.pth')
    names = [missing, legacy, mmengine, hub]

    outcomes = {}
    for mode in ('upstream', 'mmeff'):
        result = run_tool([PYTHON, '-c', UPSTREAM_LOAD, mode, *names])
        assert_ok(result)
        outcomes[mode] = json.loads(result.stdout.strip().splitlines()[-1])
    upstream, with_mmeff = outcomes['upstream'], outcomes['mmeff']
    assert upstream[missing] == with_mmeff[missing] == 'FileNotFoundError'
    expected = {k: v.tolist() for k, v in state.items()}
    assert upstream[legacy] == with_mmeff[legacy] == expected
    assert upstream[mmengine] == with_mmeff[mmengine] == expected
    assert upstream['log'] == with_mmeff['log']
    assert set(upstream['log']) == {'Loads checkpoint by local backend'}
    # The documented exception: MMEngine's message hub needs the allow-list.
    assert upstream[hub] == 'UnpicklingError'
    assert with_mmeff[hub] == {'w': [1.0, 1.0]}
