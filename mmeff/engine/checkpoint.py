"""Loading MMEngine checkpoints under ``torch.load(weights_only=True)``.

Since torch 2.6 ``torch.load`` only unpickles allow-listed types. MMEngine
0.10.7 checkpoints carry its message hub (``HistoryBuffer`` objects holding
numpy arrays and, for their statistics registry, functions pickled as
``getattr(HistoryBuffer, 'mean')``), so ``--resume`` and ``load_from`` fail.

Instead of turning the safety check off, mmeff allow-lists exactly the types
those checkpoints contain; this is the one thing ``import mmeff`` changes
upstream. MMEngine's checkpoint loaders stay as they are (a missing file is
MMEngine's ``FileNotFoundError``). Two guards keep loading free of side
effects on the process:

- ``builtins.getattr`` is mapped to :func:`_history_buffer_getattr`, which
  only resolves the statistics methods of ``HistoryBuffer``;
- a checkpoint's ``HistoryBuffer`` is built by :class:`_LoadedHistoryBuffer`,
  which refuses to rewrite ``HistoryBuffer``'s class-wide statistics table
  (upstream ``__setstate__`` updates it from the file) and then becomes a
  plain ``HistoryBuffer``.

mmeff's tools check checkpoint files first with :func:`check_checkpoint`, so
a bad file is a one-line :class:`CheckpointError` naming it.
"""
import os.path as osp
import pickle
import zipfile

import mmengine
import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.utils import digit_version

from mmeff.errors import MMEffError


class CheckpointError(MMEffError, RuntimeError):
    """A checkpoint file is missing, truncated or not a torch checkpoint."""


def _first_sentence(err):
    text = str(err)
    # torch wraps the unpickler's own reason in a long weights_only notice.
    text = text.split('WeightsUnpickler error:')[-1]
    return text.strip().splitlines()[0].split('. ')[0]


_BUILTIN_STATISTICS = frozenset(('min', 'max', 'current', 'mean'))
# ``HistoryBuffer.__getstate__`` adds this key in MMEngine 0.10.x.
_STATISTICS_KEY = 'statistics_methods'
_HISTORY_BUFFER_PATH = 'mmengine.logging.history_buffer.HistoryBuffer'


def _history_buffer_getattr(obj, name):
    """Stand-in for ``builtins.getattr`` while unpickling a checkpoint."""
    # HistoryBuffer pickles its statistics registry as getattr(cls, name);
    # while loading, the class name resolves to _LoadedHistoryBuffer.
    # The built-in four are only added to the registry by the first instance.
    known = _BUILTIN_STATISTICS.union(HistoryBuffer._statistics_methods)
    if obj in (HistoryBuffer, _LoadedHistoryBuffer) and name in known:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only '
        'the statistics methods of mmengine HistoryBuffer are allowed')


class _LoadedHistoryBuffer(HistoryBuffer):
    """What ``HistoryBuffer`` unpickles into under ``weights_only``.

    Upstream ``__setstate__`` merges the file's statistics table into the
    class-wide registry, so a crafted file could make every buffer's
    ``mean`` return the maximum. Here the file's table must agree with the
    registry already in the process, or loading fails; the object is then
    re-classed to ``HistoryBuffer``, so it saves and compares as one.
    """

    def __setstate__(self, state):
        if not isinstance(state, dict) or '_statistics_methods' in state:
            raise pickle.UnpicklingError(
                'checkpoint holds a malformed mmengine HistoryBuffer')
        table = state.pop(_STATISTICS_KEY, {})
        # The defaults every HistoryBuffer() registers; nothing from the file.
        self._set_default_statistics()
        registry = HistoryBuffer._statistics_methods
        for name, method in dict(table).items():
            if registry.get(name) is not method:
                raise pickle.UnpicklingError(
                    'checkpoint would rewrite the process-wide mmengine '
                    f'HistoryBuffer statistic {name!r}')
        self.__class__ = HistoryBuffer
        self.__dict__.update(state)


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
    return [(_LoadedHistoryBuffer, _HISTORY_BUFFER_PATH), *_numpy_globals(),
            (_history_buffer_getattr, 'builtins.getattr')]


def allow_mmengine_checkpoints():
    """Allow-list MMEngine checkpoint contents for ``weights_only`` loading.

    Idempotent; a no-op on torch versions without ``add_safe_globals`` and
    on MMEngine versions whose ``HistoryBuffer`` pickles differently.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    version = digit_version(mmengine.__version__)
    if add is not None and \
            digit_version('0.10.0') <= version < digit_version('0.11.0'):
        add(mmengine_safe_globals())


def _is_local(filename):
    return isinstance(filename, str) and '://' not in filename


def load_local_checkpoint(filename, map_location=None, mmap=False):
    """Load a local checkpoint file; :class:`CheckpointError` if unreadable.

    ``mmap=True`` maps the tensors of a zip-format file instead of reading
    them (legacy files are read in full).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise CheckpointError(f'checkpoint not found: {filename}')
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=True,
                          mmap=mmap and zipfile.is_zipfile(filename))
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


def check_checkpoint(filename):
    """Raise :class:`CheckpointError` if a local checkpoint cannot load.

    Remote paths (``scheme://``) are left to MMEngine's loaders. Zip-format
    files are memory-mapped, so checking costs little beyond the unpickling.
    """
    if _is_local(filename):
        load_local_checkpoint(filename, map_location='cpu', mmap=True)


def check_run_checkpoints(cfg):
    """:func:`check_checkpoint` on what a run will load.

    That is ``load_from`` (also the ``--resume CKPT`` path) and every
    ``init_cfg=dict(type='Pretrained', checkpoint=...)`` in ``cfg.model``.
    """
    paths = [cfg.get('load_from')]

    def visit(node):
        if isinstance(node, dict):
            if node.get('type') == 'Pretrained':
                paths.append(node.get('checkpoint'))
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(cfg.get('model'))
    for path in paths:
        if path is not None:
            check_checkpoint(path)
