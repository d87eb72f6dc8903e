"""Write ESSL storage: an FFCV ``.beton`` file plus a JSON sidecar.

DailyMAE (Wu et al., 2024) stores ImageNet in the FFCV format (Leclerc et
al., CVPR 2023) with tuned options: images shrunk to ``max_resolution`` and
JPEG-coded at ``jpeg_quality``, or kept raw / lossless where decode time
matters more than bytes. :func:`write_essl` reads an ImageNet-style tree of
class folders or an MMPretrain annotation list (``<relative path> <label>``
per line) and writes ``<output>`` and ``<output>.meta.json``.

Images are read as MMPretrain's ``LoadImageFromFile`` reads them (OpenCV's
``imdecode`` with ``IMREAD_COLOR``: EXIF orientation applied, 16-bit samples
shifted to 8, palette, grayscale, CMYK and alpha converted to colour), so the
stored pixels are the ones an MMPretrain pipeline would train on. Class
indices follow ``CustomDataset``: sorted folder names, an empty folder keeps
its index (with a warning and an ``empty_classes`` entry in the sidecar).

Every source file is checked (fully decoded) in parallel before writing, so a
corrupt, truncated or non-image file is skipped with a warning and listed in
the sidecar instead of aborting a long conversion half-way; ``strict=True``
makes any such file fatal. The check pass also sizes FFCV's pages to hold the
largest record and refuses images no record can hold (over 65535 px a side).

The file is written under a temporary name beside ``output`` and published
when complete (:mod:`mmeff.fileio`), the sidecar last: a write that fails, is
interrupted or is killed leaves an existing output and its sidecar as they
were. Without ``overwrite`` publishing never replaces a file (a second writer
racing for the same output fails). A worker that fails (a full disk, a
record FFCV cannot store) ends the run at once with :class:`ESSLWriteError`
naming the image; source trees are read following each real folder once,
and an output inside the sources is refused.
"""
import errno
import json
import os
import os.path as osp
import signal
import warnings
from multiprocessing import Pool

import cv2
import numpy as np
from PIL import Image

from ...fileio import atomic_output
from ..checks import DatasetError
from .reader import (
    ESSL_FORMAT_VERSION,
    ESSLFileError,
    index_crc32,
    read_sidecar,
    sidecar_path,
)

__all__ = ['ESSLWriteError', 'read_sidecar', 'write_essl']


class ESSLWriteError(ESSLFileError):
    """Storing an image failed part-way (a worker's error, a full disk)."""


def _walk_once(top):
    """``os.walk(top, followlinks=True)`` that enters each real folder once:
    a symlink back up the tree (``a/loop -> ../a``) or two links to one
    folder would otherwise store its images again and again."""
    seen = set()
    for folder, dirs, files in os.walk(top, followlinks=True):
        real = osp.realpath(folder)
        if real in seen:
            warnings.warn(f'not following {folder}: it leads to {real}, '
                          'already read', stacklevel=4)
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        yield folder, files


def _list_class_folders(root):
    """``(samples, classes, skipped)`` of an ImageNet-style tree."""
    classes = sorted(d for d in os.listdir(root)
                     if osp.isdir(osp.join(root, d)))
    samples, skipped = [], []
    for name in sorted(os.listdir(root)):
        if not osp.isdir(osp.join(root, name)):
            skipped.append((osp.join(root, name), 'not inside a class folder'))
    for label, name in enumerate(classes):
        for folder, files in _walk_once(osp.join(root, name)):
            for f in sorted(files):
                samples.append((osp.join(folder, f), label))
    return samples, classes, skipped


def _read_ann_file(ann_file, data_prefix, classes):
    samples = []
    with open(ann_file) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
                raise ValueError(f'{ann_file}:{lineno}: expected '
                                 f'"<path> <integer label>", got {line!r}')
            label = int(parts[1])
            if label < 0 or (classes is not None and label >= len(classes)):
                raise ValueError(f'{ann_file}:{lineno}: label {label} out of '
                                 'range' + (f' [0, {len(classes)})'
                                            if classes is not None else ''))
            samples.append((osp.join(data_prefix, parts[0]), label))
    if classes is None:
        top = max((lbl for _, lbl in samples), default=-1)
        classes = [str(i) for i in range(top + 1)]
    return samples, list(classes), []


def _read_classes(classes):
    if classes is None or isinstance(classes, (list, tuple)):
        return classes
    with open(classes) as f:
        names = [line.strip() for line in f if line.strip()]
    if not names:
        raise ValueError(f'{classes}: class-name file is empty')
    return names


def load_rgb(path):
    """Decode ``path`` to an HxWx3 uint8 RGB array as MMPretrain's
    ``LoadImageFromFile`` does (``mmcv.imfrombytes`` with the cv2 backend,
    ``flag='color'``), then BGR to RGB."""
    image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f'{path}: OpenCV cannot decode it')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def inspect_image(path):
    """``(reason, height, width)``: ``reason`` is ``None`` if ``path``
    decodes as an image, else why it does not."""
    if not osp.isfile(path):
        return 'missing', 0, 0
    try:
        # PIL raises on truncated data, which OpenCV decodes as grey rows.
        with Image.open(path) as img:
            img.load()
        shape = load_rgb(path).shape
        if 0 in shape:
            return 'empty image', 0, 0
    except Exception as err:  # PIL raises many types for bad data
        return f'not a readable image ({type(err).__name__}: {err})', 0, 0
    return None, shape[0], shape[1]


def check_image(path):
    """``None`` if ``path`` decodes as an image, else why it does not."""
    return inspect_image(path)[0]


class _ImageList:
    """Indexed dataset FFCV's writer workers read: ((key, image), label)."""

    def __init__(self, samples, output=None, page_size=None):
        self.samples = samples
        self.output, self.page_size = output, page_size
        self.current = None  # the sample a worker is storing

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, idx):
        self.current = idx
        path, label = self.samples[idx]
        return (idx, load_rgb(path)), label

    def describe_failure(self, err):
        """One line on why storing the current sample failed."""
        path = ('an image' if self.current is None
                else self.samples[self.current][0])
        if isinstance(err, OSError) and err.errno in _FULL:
            return (f'cannot write {self.output} while storing {path}: '
                    f'{err.strerror}; free space there or choose another '
                    'output')
        if isinstance(err, MemoryError):
            return (f'{path}: its record does not fit one page of the file '
                    f'({self.page_size} bytes); lower --max-resolution')
        return f'{path}: cannot store it ({type(err).__name__}: {err})'


# A full disk, a file-size limit, a full quota.
_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def _ignore_sigint():
    # Ctrl-C reaches every process of the group; the main process alone
    # reports it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _check_all(paths, num_workers, progress):
    """``(reason, height, width)`` of every path (:func:`inspect_image`)."""
    from tqdm import tqdm
    if num_workers > 1 and len(paths) > 1:
        with Pool(num_workers, initializer=_ignore_sigint) as pool:
            it = pool.imap(inspect_image, paths, chunksize=64)
            return list(tqdm(it, total=len(paths), desc='checking',
                             disable=not progress))
    return [inspect_image(p) for p in tqdm(paths, desc='checking',
                                           disable=not progress)]


def _list_samples(source, ann_file, classes):
    """``(samples, classes, skipped)`` from an annotation list or a tree."""
    classes = _read_classes(classes)
    if ann_file is not None:
        if not osp.isfile(ann_file):
            raise DatasetError(f'annotation file not found: {ann_file}')
        return _read_ann_file(ann_file, source, classes)
    if not osp.isdir(source):
        raise DatasetError(f'dataset folder not found: {source}')
    samples, found, skipped = _list_class_folders(source)
    if classes is not None and len(classes) != len(found):
        raise ValueError(f'{source}: {len(found)} class folders but '
                         f'{len(classes)} class names given')
    return samples, list(classes or found), skipped


def _readable(samples, skipped, num_workers, strict, progress, where):
    """The samples whose files decode; the rest joins ``skipped``."""
    checked = _check_all([p for p, _ in samples], num_workers, progress)
    good, sizes = [], []
    for (path, label), (reason, height, width) in zip(samples, checked):
        if reason is None:
            good.append((path, label))
            sizes.append((height, width))
        else:
            skipped.append((path, reason))
    if strict and skipped:
        path, reason = skipped[0]
        raise DatasetError(f'{path}: {reason} ({len(skipped)} bad file(s); '
                           'drop strict to skip them)')
    for path, reason in skipped:
        warnings.warn(f'skipping {path}: {reason}', stacklevel=3)
    if not good:
        raise DatasetError(f'no readable images in {where}')
    return good, sizes


# FFCV's default page (8 MiB) and its largest (page offsets are uint32).
_PAGE, _MAX_PAGE = 1 << 23, 1 << 31


def _page_size(good, sizes, max_resolution):
    """The file's page size: FFCV stores a record within one page, so the
    page must hold the largest record (raw pixels bound every mode's); an
    image that cannot be stored is refused before anything is written."""
    from .field import MAX_SIDE, stored_size
    largest, where = 0, None
    for (path, _), (height, width) in zip(good, sizes):
        height, width = stored_size(height, width, max_resolution)
        if max(height, width) > MAX_SIDE:
            raise DatasetError(
                f'{path}: {width}x{height} pixels; ESSL records hold at most '
                f'{MAX_SIDE} per side: pass --max-resolution (e.g. 500)')
        if height * width * 3 > largest:
            largest, where = height * width * 3, path
    # Room for the PNG / JPEG framing of an incompressible image.
    need = largest + largest // 64 + 4096
    if need > _MAX_PAGE:
        raise DatasetError(
            f'{where}: its record may take {need} bytes, more than an FFCV '
            f'page can hold ({_MAX_PAGE}); pass --max-resolution')
    page = _PAGE
    while page < need:
        page *= 2
    return page


def _refuse_inside_sources(output, source, ann_file, classes, samples):
    """An output among the inputs would replace or be read as a source: in
    a class-folder tree anywhere under it; with an annotation list, one of
    the listed images or the list itself."""
    out = osp.realpath(output)
    for path in (ann_file, classes if isinstance(classes, str) else None):
        if path is not None and osp.realpath(path) in (
                out, osp.realpath(sidecar_path(output))):
            raise ESSLFileError(f'output {output} is the input file {path}; '
                                'choose another output')
    if ann_file is not None:
        listed = next((p for p, _ in samples if osp.realpath(p) == out),
                      None)
        if listed is not None:
            raise ESSLFileError(f'output {output} is the source image '
                                f'{listed}; choose another output')
        return
    root = osp.realpath(source)
    if out == root or out.startswith(root.rstrip(os.sep) + os.sep):
        raise ESSLFileError(
            f'output {output} lies inside the source folder {source}, whose '
            'files it would replace or be read as; write it outside')


def _refuse_existing(output, overwrite):
    if overwrite:
        return
    for path in (output, sidecar_path(output)):
        if osp.lexists(path):
            raise ESSLFileError(
                f'{path} exists; pass --overwrite (overwrite=True) to '
                'replace it')


def _check_options(num_workers, chunk_size):
    for name, value in (('num_workers', num_workers),
                        ('chunk_size', chunk_size)):
        if value is not None and (isinstance(value, bool) or
                                  not isinstance(value, int) or value < 1):
            raise ValueError(f'{name} must be an int >= 1, got {value!r}')


def write_essl(source, output, ann_file=None, classes=None, write_mode='jpg',
               max_resolution=None, jpeg_quality=90, compress_probability=0.5,
               smart_threshold=None, num_workers=None, chunk_size=100,
               strict=False, progress=True, seed=0, restart_interval=4,
               overwrite=False):
    """Convert images to ESSL storage.

    Args:
        source (str): root of class folders (``<source>/<class>/<img>``), or
            the prefix the paths in ``ann_file`` are relative to.
        output (str): the ``.beton`` file to write.
        ann_file (str, optional): MMPretrain annotation list.
        classes (str | list, optional): class names (a list or a file with
            one per line); from the folder names for a class-folder tree.
        write_mode, max_resolution, jpeg_quality, compress_probability,
            smart_threshold: see :class:`ESSLImageField`.
        num_workers (int, optional): processes (default: all CPUs).
        chunk_size (int): images per work unit of FFCV's writer.
        strict (bool): raise on the first unreadable file instead of skipping.
        progress (bool): show progress bars.
        seed (int): seeds the per-image ``'proportion'`` draws.
        restart_interval (int): JPEG restart markers every this many MCUs
            (0: none, as stock FFCV writes); see :class:`ESSLImageField`.
        overwrite (bool): replace an existing ``output`` (else an error).

    Returns:
        dict: the sidecar, also written to ``<output>.meta.json``.
    """
    from .field import ESSLImageField

    field = ESSLImageField(write_mode, max_resolution, jpeg_quality,
                           compress_probability, smart_threshold, seed,
                           restart_interval)
    _check_options(num_workers, chunk_size)
    _refuse_existing(output, overwrite)
    num_workers = num_workers or os.cpu_count()
    names = classes
    samples, classes, skipped = _list_samples(source, ann_file, classes)
    _refuse_inside_sources(output, source, ann_file, names, samples)
    good, sizes = _readable(samples, skipped, num_workers, strict, progress,
                            ann_file or source)
    page_size = _page_size(good, sizes, max_resolution)
    empty = _warn_empty_classes(good, classes, source, ann_file)
    options = dict(
        write_mode=write_mode, max_resolution=max_resolution,
        jpeg_quality=int(jpeg_quality),
        compress_probability=compress_probability,
        smart_threshold=smart_threshold, seed=seed,
        restart_interval=restart_interval, num_workers=num_workers,
        chunk_size=chunk_size, strict=strict)
    summary = dict(source=osp.abspath(source), ann_file=ann_file,
                   options=options, skipped=skipped, classes=classes,
                   empty_classes=empty, progress=progress)
    return _write_atomically(output, field, good, summary, page_size,
                             exclusive=not overwrite)


def _warn_empty_classes(good, classes, source, ann_file):
    """Names of the classes without an image; each keeps its index, as in
    MMPretrain's ``CustomDataset``, so labels match an MMPretrain run."""
    counts = np.bincount([lbl for _, lbl in good], minlength=len(classes))
    empty = [classes[i] for i in np.flatnonzero(counts == 0)]
    for name in empty:
        where = (f'class folder {osp.join(source, name)}' if ann_file is None
                 else f'class {name!r} of {ann_file}')
        warnings.warn(f'{where} has no readable image; its label '
                      f'{classes.index(name)} stays reserved', stacklevel=3)
    return empty


def _write_atomically(output, field, good, summary, page_size,
                      exclusive=False):
    """Write ``output`` and its sidecar under temporary names beside them,
    then publish them (:mod:`mmeff.fileio`), the sidecar last; with
    ``exclusive`` neither replaces a file that appeared meanwhile."""
    from ._ffcv import DatasetWriter, IntField, WorkerFailure, write_indexed
    os.makedirs(osp.dirname(osp.abspath(output)), exist_ok=True)
    opts = summary['options']
    meta_out = sidecar_path(output)
    # Leaving the inner block publishes the file, then the outer its sidecar.
    with atomic_output(meta_out, exclusive) as tmp_meta, \
            atomic_output(output, exclusive) as tmp:
        writer = DatasetWriter(tmp, {'image': field, 'label': IntField()},
                               page_size=page_size,
                               num_workers=opts['num_workers'])
        try:
            write_indexed(writer, _ImageList(good, output, page_size),
                          opts['chunk_size'], summary['progress'])
        except WorkerFailure as err:
            raise ESSLWriteError(f'{err}; {output} was left as it '
                                 'was') from None
        meta = _summarise(tmp, good, summary)
        with open(tmp_meta, 'w') as f:
            json.dump(meta, f, indent=1)
    return meta


def _summarise(path, good, summary):
    from ._ffcv import Reader
    from .field import JPEG, PNG, RAW
    reader = Reader(path)
    # FFCV's metadata columns are positional (f0, f1, ...).
    image = reader.metadata[f'f{reader.field_names.index("image")}']
    modes = image['mode']
    classes, skipped = summary['classes'], summary['skipped']
    labels = np.array([lbl for _, lbl in good])
    return dict(
        format='essl', format_version=ESSL_FORMAT_VERSION,
        source=summary['source'], ann_file=summary['ann_file'],
        options=summary['options'], num_samples=int(reader.num_samples),
        num_skipped=len(skipped),
        skipped=[dict(path=p, reason=r) for p, r in skipped],
        classes=list(classes),
        class_counts=np.bincount(labels, minlength=len(classes)).tolist(),
        empty_classes=summary['empty_classes'],
        record_modes=dict(jpg=int((modes == JPEG).sum()),
                          raw=int((modes == RAW).sum()),
                          png=int((modes == PNG).sum())),
        max_height=int(image['height'].max()),
        max_width=int(image['width'].max()),
        file_bytes=osp.getsize(path), index_crc32=index_crc32(reader))
