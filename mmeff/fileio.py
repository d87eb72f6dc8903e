"""One way to write an output: whole or not at all, and on disk.

:func:`atomic_output` is what every tool that writes a file uses (checkpoints,
ESSL storage and its sidecar, condensed images, exported weights, reports).
The bytes go to a temporary file in the output's own folder (a rename never
crosses file systems), the file is fsynced, renamed over the final name and
the folder fsynced, so after a kill or a power loss the final name holds the
old bytes or the new ones, never a mix. With ``exclusive=True`` the final
name is created, never replaced (``link(2)`` fails on an existing name): two
writers that both refuse to overwrite cannot both succeed.
"""
import contextlib
import glob
import os
import os.path as osp
import secrets

from .errors import MMEffError

#: Suffix of the temporary files :func:`atomic_output` writes.
TMP_SUFFIX = '.tmp'


class OutputRaceError(MMEffError, FileExistsError):
    """The output appeared while it was being written (another writer)."""


def fsync_dir(folder):
    """Flush ``folder``'s entries (a rename in it) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path):
    with open(path, 'rb+') as f:
        os.fsync(f.fileno())


def temporary_name(path):
    """A fresh hidden name beside ``path`` that :func:`stale_temporaries`
    recognises."""
    folder = osp.dirname(osp.abspath(path))
    return osp.join(folder, f'.{osp.basename(path)}.{os.getpid()}.'
                    f'{secrets.token_hex(4)}{TMP_SUFFIX}')


def publish(tmp, path, exclusive=False):
    """Fsync ``tmp`` and give it the name ``path`` (atomically).

    Raises:
        OutputRaceError: ``exclusive`` and ``path`` exists; ``tmp`` is kept
            for the caller to remove.
    """
    fsync_file(tmp)
    if exclusive:
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise OutputRaceError(
                f'{path} appeared while this was being written (another '
                'writer?); it was left as it is') from None
        os.remove(tmp)
    else:
        os.replace(tmp, path)
    fsync_dir(osp.dirname(osp.abspath(path)))


@contextlib.contextmanager
def atomic_output(path, exclusive=False):
    """Yield a temporary path next to ``path``; on success it becomes ``path``.

    On an exception (or ``KeyboardInterrupt``) the temporary file is removed
    and ``path`` is untouched. ``exclusive``: see :func:`publish`.
    """
    tmp = temporary_name(path)
    # Created as open() would (mode 0o666 less the umask), not 0o600.
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield tmp
        publish(tmp, path, exclusive)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def atomic_write_bytes(path, data: bytes, exclusive=False):
    with atomic_output(path, exclusive) as tmp, open(tmp, 'wb') as f:
        f.write(data)


def stale_temporaries(folder):
    """Temporary files a killed :func:`atomic_output` left in ``folder``."""
    return sorted(glob.glob(osp.join(glob.escape(folder),
                                     f'.*.*{TMP_SUFFIX}')))
