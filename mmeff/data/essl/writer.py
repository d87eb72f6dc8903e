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
makes any such file fatal. The file is written under a temporary name beside
``output`` and renamed when complete, the sidecar last: a write that fails or
is killed leaves an existing output and its sidecar as they were.
"""
import json
import os
import os.path as osp
import warnings
from multiprocessing import Pool

import cv2
import numpy as np
from PIL import Image

from ..checks import DatasetError
from .reader import (
    ESSL_FORMAT_VERSION,
    ESSLFileError,
    index_crc32,
    read_sidecar,
    sidecar_path,
)

__all__ = ['read_sidecar', 'write_essl']


def _list_class_folders(root):
    """``(samples, classes, skipped)`` of an ImageNet-style tree."""
    classes = sorted(d for d in os.listdir(root)
                     if osp.isdir(osp.join(root, d)))
    samples, skipped = [], []
    for name in sorted(os.listdir(root)):
        if not osp.isdir(osp.join(root, name)):
            skipped.append((osp.join(root, name), 'not inside a class folder'))
    for label, name in enumerate(classes):
        for folder, dirs, files in os.walk(osp.join(root, name),
                                           followlinks=True):
            dirs.sort()
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


def check_image(path):
    """``None`` if ``path`` decodes as an image, else why it does not."""
    if not osp.isfile(path):
        return 'missing'
    try:
        # PIL raises on truncated data, which OpenCV decodes as grey rows.
        with Image.open(path) as img:
            img.load()
        if load_rgb(path).size == 0:
            return 'empty image'
    except Exception as err:  # PIL raises many types for bad data
        return f'not a readable image ({type(err).__name__}: {err})'
    return None


class _ImageList:
    """Indexed dataset FFCV's writer workers read: ((key, image), label)."""

    def __init__(self, samples):
        self.samples = samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, idx):
        path, label = self.samples[idx]
        return (idx, load_rgb(path)), label


def _check_all(paths, num_workers, progress):
    from tqdm import tqdm
    if num_workers > 1 and len(paths) > 1:
        with Pool(num_workers) as pool:
            it = pool.imap(check_image, paths, chunksize=64)
            return list(tqdm(it, total=len(paths), desc='checking',
                             disable=not progress))
    return [check_image(p) for p in tqdm(paths, desc='checking',
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
    reasons = _check_all([p for p, _ in samples], num_workers, progress)
    good = []
    for (path, label), reason in zip(samples, reasons):
        if reason is None:
            good.append((path, label))
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
    return good


def _refuse_existing(output, overwrite):
    if overwrite:
        return
    for path in (output, sidecar_path(output)):
        if osp.exists(path):
            raise ESSLFileError(
                f'{path} exists; pass --overwrite (overwrite=True) to '
                'replace it')


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
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
    _refuse_existing(output, overwrite)
    num_workers = num_workers or os.cpu_count()
    samples, classes, skipped = _list_samples(source, ann_file, classes)
    good = _readable(samples, skipped, num_workers, strict, progress,
                     ann_file or source)
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
                   empty_classes=empty)
    return _write_atomically(output, field, good, summary)


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


def _write_atomically(output, field, good, summary):
    """Write ``output`` and its sidecar under temporary names beside them,
    then rename them into place, the sidecar last."""
    from ._ffcv import DatasetWriter, IntField
    os.makedirs(osp.dirname(osp.abspath(output)), exist_ok=True)
    suffix = f'.tmp-{os.getpid()}'
    tmp, tmp_meta = output + suffix, sidecar_path(output) + suffix
    try:
        opts = summary['options']
        writer = DatasetWriter(tmp, {'image': field, 'label': IntField()},
                               num_workers=opts['num_workers'])
        writer.from_indexed_dataset(_ImageList(good),
                                    chunksize=opts['chunk_size'])
        meta = _summarise(tmp, good, summary)
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        with open(tmp_meta, 'w') as f:
            json.dump(meta, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, output)
        os.replace(tmp_meta, sidecar_path(output))
    finally:
        for path in (tmp, tmp_meta):
            if osp.exists(path):
                os.remove(path)
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
