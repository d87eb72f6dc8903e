"""Outputs that survive: atomic writes, no silent overwrite, intact resume.

Files are written through :func:`mmeff.fileio.atomic_output` (temporary
name in the same folder, fsync, rename, fsync of the folder), so a process
killed at any moment leaves either the old file or the new one, never a
partial one under the final name. A stale temporary file is all a kill can
leave behind.

:class:`AtomicLocalBackend` brings this to MMEngine's checkpoint writes (it
is a registered file backend, ``backend_args=dict(backend='atomic_local')``),
and :func:`newest_intact_checkpoint` lets ``--resume`` skip a checkpoint that
was truncated anyway (written by another tool, copied partially, a full
disk).
"""
import glob
import os
import os.path as osp
import tempfile
import zipfile

from mmengine.fileio import LocalBackend, register_backend

from ..fileio import (  # noqa: F401  the helpers' home is mmeff.fileio
    TMP_SUFFIX,
    atomic_output,
    atomic_write_bytes,
    stale_temporaries,
)
from .checkpoint import CheckpointError
from .config import ConfigError


class OutputExistsError(ConfigError):
    """A tool would replace an existing output without ``--overwrite``."""


class OutputDirError(ConfigError):
    """An output folder cannot be created or written."""


def check_writable_dir(path, hint='choose another with --work-dir'):
    """Create ``path`` if needed and prove a file can be written in it."""
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix='.write-test-')
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        blocker = _file_in_the_way(path)
        why = '' if blocker is None else \
            f' because {blocker} is a file, not a folder'
        raise OutputDirError(f'cannot write to {path} ({err.strerror}){why}; '
                             f'{hint}') from None


def _file_in_the_way(path):
    """The deepest existing part of ``path`` if it is not a folder (what
    ``makedirs`` reports only as ``[Errno 17] File exists: path``)."""
    part = osp.abspath(path)
    while not osp.exists(part) and osp.dirname(part) != part:
        part = osp.dirname(part)
    return None if osp.isdir(part) else part


def refuse_existing(path, overwrite=False):
    """Raise :class:`OutputExistsError` if ``path`` exists, unless
    ``overwrite``."""
    if not overwrite and osp.lexists(path):
        raise OutputExistsError(f'{path} already exists; pass --overwrite '
                                'to replace it, or choose another output')


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """MMEngine's local file backend with atomic ``put`` and ``put_text``.

    ``Runner.save_checkpoint`` (regular and best checkpoints) writes through
    ``backend.put``: with this backend a checkpoint appears under its name
    only once it is complete and on disk.
    """

    def put(self, obj: bytes, filepath) -> None:
        os.makedirs(osp.dirname(osp.abspath(filepath)), exist_ok=True)
        with atomic_output(str(filepath)) as tmp, open(tmp, 'wb') as f:
            self._write(f, obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)

    def _write(self, f, obj: bytes):
        f.write(obj)


def is_intact_checkpoint(path) -> bool:
    """True if ``path`` is a complete torch zip checkpoint.

    Reads the zip directory at the end of the file and checks every record
    against its CRC-32, without unpickling: a truncated or partly overwritten
    file fails.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            return (any(n.endswith('/data.pkl') or n == 'data.pkl'
                        for n in names) and zf.testzip() is None)
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        return False


def _last_named(work_dir):
    """The checkpoint ``work_dir/last_checkpoint`` names, taken from
    ``work_dir`` itself when it holds a file of that name: MMEngine writes
    an absolute path, which in a copied or moved work dir still points at
    the original folder."""
    try:
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            named = f.read().strip() or None
    except OSError:
        return None
    if named is not None:
        local = osp.join(work_dir, osp.basename(named))
        if osp.isfile(local):
            return local
    return named


def newest_intact_checkpoint(work_dir):
    """The checkpoint ``--resume`` should take, and the broken ones skipped.

    Candidates are the file named by ``work_dir/last_checkpoint`` (MMEngine's
    choice), then the ``*.pth`` files of its folder, newest first.

    Returns:
        tuple: the newest intact checkpoint (None if there is none) and the
        list of candidates skipped because they are not intact.
    """
    named = _last_named(work_dir)
    folder = osp.dirname(named) if named else work_dir
    found = sorted(glob.glob(osp.join(glob.escape(folder), '*.pth')),
                   key=lambda p: os.stat(p).st_mtime_ns, reverse=True)
    candidates = [named] if named else []
    candidates += [p for p in found
                   if not named or osp.abspath(p) != osp.abspath(named)]
    skipped = []
    for path in candidates:
        if is_intact_checkpoint(path):
            return path, skipped
        skipped.append(path)
    return None, skipped


def resolve_auto_resume(cfg, logger):
    """Point an automatic resume (``resume=True``, no ``load_from``) at the
    newest intact checkpoint of ``cfg.work_dir``, warning for each skipped.

    Raises:
        CheckpointError: checkpoints exist but none is intact.
    """
    if not cfg.get('resume') or cfg.get('load_from'):
        return
    path, skipped = newest_intact_checkpoint(cfg.work_dir)
    for bad in skipped:
        logger.warning(f'resume: skipping {bad}: missing, truncated or '
                       'corrupt')
    if path is None and skipped:
        raise CheckpointError(f'no intact checkpoint to resume from in '
                              f'{cfg.work_dir} (skipped {", ".join(skipped)})')
    cfg.load_from = path


_STOCK_CHECKPOINT_HOOKS = ('CheckpointHook', 'mmengine.CheckpointHook')


def prepare_training_outputs(cfg, logger):
    """What mmeff's tools add so that nothing is lost and nothing is silent.

    The work dir must be writable (one-line error otherwise); MMEngine's
    ``CheckpointHook`` becomes :class:`AtomicCheckpointHook` with the same
    arguments; :class:`FiniteLossHook` stops a run whose loss is NaN; an
    automatic resume takes the newest intact checkpoint.
    """
    check_writable_dir(cfg.work_dir)
    hooks = cfg.get('default_hooks') or {}
    ckpt = hooks.get('checkpoint', dict(type='CheckpointHook', interval=1))
    if ckpt is not None and ckpt.get('type') in _STOCK_CHECKPOINT_HOOKS:
        hooks['checkpoint'] = dict(ckpt, type='AtomicCheckpointHook')
    cfg.default_hooks = hooks
    custom = list(cfg.get('custom_hooks') or [])
    if not any(h.get('type') == 'FiniteLossHook' for h in custom):
        custom.append(dict(type='FiniteLossHook'))
    cfg.custom_hooks = custom
    resolve_auto_resume(cfg, logger)
