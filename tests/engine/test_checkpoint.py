"""MMEngine checkpoints load under torch's weights_only default, safely."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import mmeff  # noqa: F401  registers the loader
from mmeff.engine.checkpoint import (CheckpointError, _history_buffer_getattr,
                                     load_local_checkpoint)


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
    assert isinstance(buf, HistoryBuffer)
    assert buf.mean() == pytest.approx(0.375)
    assert buf.statistics('max') == pytest.approx(0.5)
    assert ckpt['meta']['seed'] == 3


def test_getattr_stand_in_only_resolves_history_buffer_statistics():
    assert _history_buffer_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError, match='only the statistics'):
        _history_buffer_getattr(HistoryBuffer, '__init__')
    with pytest.raises(pickle.UnpicklingError):
        _history_buffer_getattr(torch, 'load')


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
        load_local_checkpoint(str(path))
    assert str(path) in str(info.value)
    assert '\n' not in str(info.value)


def test_missing_checkpoint_error_names_file(tmp_path):
    with pytest.raises(CheckpointError, match='not found'):
        load_local_checkpoint(str(tmp_path / 'missing.pth'))


def test_mmengine_load_checkpoint_uses_mmeff_loader(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint
    path = tmp_path / 'broken.pth'
    path.write_bytes(b'not a zip')
    with pytest.raises(CheckpointError, match=str(path)):
        _load_checkpoint(str(path), map_location='cpu')
