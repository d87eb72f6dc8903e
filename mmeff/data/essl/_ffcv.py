"""The one module that imports FFCV: the names ESSL uses, behind a version
check, with each workaround for FFCV 1.0.2's behaviour in one place.

FFCV is unmaintained and its internals are not an API: a new version may
change any name below. Everything else in ``mmeff`` takes FFCV through this
module, so a version change is met here or refused here. Importing it is
deferred (the package imports it only when a file is written or read), so
projects on the stock torch DataLoader path never need FFCV.
"""
import contextlib
import functools
import multiprocessing
import os
import queue
import signal
import time
from importlib import metadata
from multiprocessing.queues import Queue as _MPQueue

import torch

from mmeff.errors import MissingExtraError, MMEffError, import_extra

FFCV_VERSION = '1.0.2'


def _check_version():
    try:
        version = metadata.version('ffcv')
    except metadata.PackageNotFoundError:
        raise MissingExtraError(
            f'ESSL storage needs ffcv {FFCV_VERSION}, which is not installed: '
            "install mmeff's [ffcv] extra (tools/setup_env.sh builds it)"
        ) from None
    if version != FFCV_VERSION:
        raise ImportError(
            f'ESSL storage is written against ffcv {FFCV_VERSION} (its file '
            f'layout and pipeline internals), but ffcv {version} is '
            f'installed: install ffcv=={FFCV_VERSION}')


_check_version()

# Workaround: ffcv.pipeline.compiler calls torch.set_num_threads(1) when
# first imported. Without restoring the count, every process that touched
# ESSL storage would train its model on one core.
_threads = torch.get_num_threads()
import_extra('ffcv', 'ffcv', 'ESSL storage')  # installed but not importable
from ffcv.fields import IntField, RGBImageField  # noqa: E402
from ffcv.fields.base import ARG_TYPE  # noqa: E402
from ffcv.reader import Reader  # noqa: E402
from ffcv.types import ALLOC_TABLE_TYPE, CURRENT_VERSION, TYPE_ID_HANDLER, HeaderType  # noqa: E402
from ffcv.writer import DatasetWriter  # noqa: E402

torch.set_num_threads(_threads)

__all__ = [
    'ALLOC_TABLE_TYPE', 'ARG_TYPE', 'CURRENT_VERSION', 'DatasetWriter',
    'HeaderType', 'IntField', 'RGBImageField', 'Reader', 'WorkerFailure',
    'register_field', 'write_indexed'
]


def register_field(type_id, field_cls):
    """Make ``field_cls`` the handler of ``type_id`` in FFCV's global table.

    Workaround: FFCV finds a field's class only through ``TYPE_ID_HANDLER``.
    Its writer stores the id of the class it is given (255, "custom",
    for an unlisted class) and its reader then refuses a custom field
    without a handler, so an unregistered field writes files nobody reads.
    """
    TYPE_ID_HANDLER[type_id] = field_cls


class WorkerFailure(MMEffError, RuntimeError):
    """A writer process failed; the message names the record and why."""


def _guarded_job(errors, *args):
    """FFCV's indexed-dataset worker that reports its failure and exits.

    Workaround: a failing FFCV worker dies with a traceback while the main
    process polls its progress counter forever. ``args[-1]`` (the dataset)
    turns the exception into one line naming the image.
    """
    # Ctrl-C reaches the whole process group: the main process alone
    # reports it and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from ffcv.writer import worker_job_indexed_dataset
    try:
        worker_job_indexed_dataset(*args)
    except BaseException as err:  # noqa: B902  reported, then exit
        errors.put(args[-1].describe_failure(err))
        errors.close()
        errors.join_thread()
        os._exit(1)


class _WatchedQueue(_MPQueue):
    """A queue whose blocking ``get`` in the creating process gives up when
    ``check`` raises (FFCV's main process waits on one per worker)."""

    def __init__(self, check):
        super().__init__(ctx=multiprocessing.get_context())
        self._check, self._owner = check, os.getpid()

    def __getstate__(self):
        return super().__getstate__(), self._owner

    def __setstate__(self, state):
        base, self._owner = state
        super().__setstate__(base)
        self._check = None

    def get(self, block=True, timeout=None):
        if not block or timeout is not None or os.getpid() != self._owner:
            return super().get(block, timeout)
        while True:
            try:
                return super().get(timeout=0.2)
            except queue.Empty:
                self._check()


def _failure_check(errors, processes):
    def check():
        with contextlib.suppress(queue.Empty):
            raise WorkerFailure(errors.get(timeout=0.01))
        for p in processes:
            if p.exitcode not in (None, 0):
                with contextlib.suppress(queue.Empty):
                    raise WorkerFailure(errors.get(timeout=1))
                raise WorkerFailure(
                    f'a writer process died (exit code {p.exitcode}; -9 is '
                    'usually the out-of-memory killer)')
    return check


@contextlib.contextmanager
def _watched(writer, check, processes, progress):
    """Patch ``ffcv.writer``'s ``sleep``, ``Queue``, ``Process`` and
    ``tqdm`` while ``writer`` runs, so its waits end at the first failed
    worker and its progress bar follows ``progress``."""
    import ffcv.writer as fw
    saved = fw.sleep, fw.Queue, fw.Process, fw.tqdm
    bars = []

    def process(*args, **kwargs):
        processes.append(saved[2](*args, **kwargs))
        return processes[-1]

    def sleep(seconds):
        check()
        time.sleep(seconds)

    def bar(*args, **kwargs):
        bars.append(saved[3](*args, disable=not progress, desc='writing',
                             **kwargs))
        return bars[-1]

    fw.sleep, fw.Process, fw.tqdm = sleep, process, bar
    fw.Queue = functools.partial(_WatchedQueue, check)
    try:
        yield
    except BaseException:
        for b in bars:  # else closed later, after the caller's message
            b.close()
        for p in processes:
            if p.is_alive():
                p.kill()
        for p in processes:
            p.join()
        shared = getattr(writer, 'metadata_sm', None)
        if hasattr(shared, 'unlink'):  # FFCV leaks it on any failure
            shared.close()
            shared.unlink()
        raise
    finally:
        fw.sleep, fw.Queue, fw.Process, fw.tqdm = saved


def write_indexed(writer, dataset, chunksize, progress=True):
    """``writer.from_indexed_dataset(dataset)`` that raises
    :class:`WorkerFailure` (workers stopped, shared memory freed) as soon as
    a worker fails, instead of waiting forever."""
    from ffcv.utils import chunks
    errors, processes = multiprocessing.Queue(), []
    check = _failure_check(errors, processes)
    indices = list(enumerate(range(len(dataset))))
    with _watched(writer, check, processes, progress):
        writer._write_common(len(indices), chunks(indices, chunksize),
                             functools.partial(_guarded_job, errors),
                             (dataset,))
