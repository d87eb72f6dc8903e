"""Loading MMEngine checkpoints under ``torch.load(weights_only=True)``.

Since torch 2.6 ``torch.load`` only unpickles allow-listed types. MMEngine
0.10.7 checkpoints carry its message hub (``HistoryBuffer`` objects holding
numpy arrays and, for their statistics registry, functions pickled as
``getattr(HistoryBuffer, 'mean')``), so ``--resume`` and ``load_from`` fail.

Instead of turning the safety check off, mmeff allow-lists exactly the types
those checkpoints contain. ``builtins.getattr`` is not allowed as such: it is
mapped to :func:`_history_buffer_getattr`, which only resolves the statistics
methods of ``HistoryBuffer``. The local-file checkpoint loader is also
replaced by one that turns an unreadable file into a one-line error naming
the file.
"""
import os.path as osp
import pickle
import zipfile

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated or not a torch checkpoint."""


def _first_sentence(err):
    return str(err).strip().splitlines()[0].split('. ')[0]


_BUILTIN_STATISTICS = frozenset(('min', 'max', 'current', 'mean'))


def _history_buffer_getattr(obj, name):
    """Stand-in for ``builtins.getattr`` while unpickling a checkpoint."""
    # HistoryBuffer pickles its statistics registry as getattr(cls, name).
    # The built-in four are only added to the registry by the first instance.
    known = _BUILTIN_STATISTICS.union(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in known:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only '
        'the statistics methods of mmengine HistoryBuffer are allowed')


def _numpy_globals():
    core = getattr(np, '_core', None) or np.core
    found = [np.ndarray, np.dtype, core.multiarray._reconstruct,
             core.multiarray.scalar]
    # numpy >= 1.25 pickles dtypes through their classes in numpy.dtypes.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [getattr(dtypes, name) for name in dir(dtypes)
                  if name.endswith('DType')]
    return found


def mmengine_safe_globals():
    """The exact globals an MMEngine 0.10.x checkpoint needs."""
    return [HistoryBuffer, *_numpy_globals(),
            (_history_buffer_getattr, 'builtins.getattr')]


def allow_mmengine_checkpoints():
    """Allow-list MMEngine checkpoint contents for ``weights_only`` loading.

    Idempotent; a no-op on torch versions without ``add_safe_globals``.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:
        add(mmengine_safe_globals())


def load_local_checkpoint(filename, map_location=None):
    """Load a checkpoint file, raising :class:`CheckpointError` if unreadable.

    Registered as MMEngine's loader for local paths, so ``load_from``,
    ``--resume`` and ``Pretrained`` init all go through it.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise CheckpointError(f'checkpoint not found: {filename}')
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile,
            pickle.UnpicklingError) as err:
        if isinstance(err, pickle.UnpicklingError) or \
                'Weights only load failed' in str(err):
            raise CheckpointError(
                f'{filename}: contains objects outside the allow-list for '
                'safe loading; re-save it as a plain state dict '
                f'({_first_sentence(err)})') from err
        raise CheckpointError(
            f'{filename}: truncated or not a torch checkpoint '
            f'({_first_sentence(err)}); re-save or re-download it'
        ) from err


def register_checkpoint_loader():
    allow_mmengine_checkpoints()
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
