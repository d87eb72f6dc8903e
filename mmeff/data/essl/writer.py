"""Write ESSL storage: an FFCV ``.beton`` file plus a JSON sidecar.

DailyMAE (Wu et al., 2024) stores ImageNet in the FFCV format (Leclerc et
al., CVPR 2023) with tuned options: images shrunk to ``max_resolution`` and
JPEG-coded at ``jpeg_quality``, or kept raw / lossless where decode time
matters more than bytes. :func:`write_essl` reads an ImageNet-style tree of
class folders or an MMPretrain annotation list (``<relative path> <label>``
per line) and writes ``<output>`` and ``<output>.meta.json``.

Every source file is checked (fully decoded) in parallel before writing, so a
corrupt, truncated or non-image file is skipped with a warning and listed in
the sidecar instead of aborting a long conversion half-way; ``strict=True``
makes any such file fatal.
"""
import json
import os
import os.path as osp
import warnings
from multiprocessing import Pool

import numpy as np
from PIL import Image

from ..checks import DatasetError

SIDECAR_SUFFIX = '.meta.json'
ESSL_FORMAT_VERSION = 1


def sidecar_path(path):
    return path + SIDECAR_SUFFIX


def read_sidecar(path):
    """The sidecar dict of ESSL file ``path`` (raises naming the file)."""
    meta_path = sidecar_path(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'ESSL file not found: {path}')
    if not osp.isfile(meta_path):
        raise FileNotFoundError(
            f'{meta_path} is missing: ESSL files are written by '
            'tools/dataset_converters/essl_writer.py with a sidecar')
    with open(meta_path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'{meta_path}: not valid JSON ({err})') from None


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
    """Decode ``path`` fully to an HxWx3 uint8 RGB array."""
    with Image.open(path) as img:
        img.load()  # raises on truncated data
        if img.mode != 'RGB':
            img = img.convert('RGB')
        return np.asarray(img)


def check_image(path):
    """``None`` if ``path`` decodes as an image, else why it does not."""
    if not osp.isfile(path):
        return 'missing'
    try:
        with Image.open(path) as img:
            img.load()
            if img.width < 1 or img.height < 1:
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


def write_essl(source, output, ann_file=None, classes=None, write_mode='jpg',
               max_resolution=None, jpeg_quality=90, compress_probability=0.5,
               smart_threshold=None, num_workers=None, chunk_size=100,
               strict=False, progress=True, seed=0, restart_interval=4):
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

    Returns:
        dict: the sidecar, also written to ``<output>.meta.json``.
    """
    from ._ffcv import import_ffcv
    import_ffcv()
    from ffcv.fields import IntField
    from ffcv.writer import DatasetWriter

    from .field import ESSLImageField

    field = ESSLImageField(write_mode, max_resolution, jpeg_quality,
                           compress_probability, smart_threshold, seed,
                           restart_interval)
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
    num_workers = num_workers or os.cpu_count()
    classes = _read_classes(classes)
    if ann_file is not None:
        if not osp.isfile(ann_file):
            raise DatasetError(f'annotation file not found: {ann_file}')
        samples, classes, skipped = _read_ann_file(ann_file, source, classes)
    else:
        if not osp.isdir(source):
            raise DatasetError(f'dataset folder not found: {source}')
        samples, found, skipped = _list_class_folders(source)
        classes = list(classes or found)
        if len(classes) != len(found):
            raise ValueError(f'{source}: {len(found)} class folders but '
                             f'{len(classes)} class names given')
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
        warnings.warn(f'skipping {path}: {reason}', stacklevel=2)
    if not good:
        raise DatasetError(f'no readable images in {ann_file or source}')

    os.makedirs(osp.dirname(osp.abspath(output)), exist_ok=True)
    writer = DatasetWriter(output, {'image': field, 'label': IntField()},
                           num_workers=num_workers)
    writer.from_indexed_dataset(_ImageList(good), chunksize=chunk_size)
    meta = _summarise(output, good, skipped, classes, dict(
        write_mode=write_mode, max_resolution=max_resolution,
        jpeg_quality=int(jpeg_quality),
        compress_probability=compress_probability,
        smart_threshold=smart_threshold, seed=seed,
        restart_interval=restart_interval, num_workers=num_workers,
        chunk_size=chunk_size, strict=strict),
        source, ann_file)
    with open(sidecar_path(output), 'w') as f:
        json.dump(meta, f, indent=1)
    return meta


def _summarise(output, good, skipped, classes, options, source, ann_file):
    from ffcv.reader import Reader

    from .field import JPEG, PNG, RAW
    reader = Reader(output)
    # FFCV's metadata columns are positional (f0, f1, ...).
    image = reader.metadata[f'f{reader.field_names.index("image")}']
    modes = image['mode']
    labels = np.array([lbl for _, lbl in good])
    return dict(
        format='essl', format_version=ESSL_FORMAT_VERSION,
        source=osp.abspath(source), ann_file=ann_file, options=options,
        num_samples=int(reader.num_samples), num_skipped=len(skipped),
        skipped=[dict(path=p, reason=r) for p, r in skipped],
        classes=list(classes),
        class_counts=np.bincount(labels, minlength=len(classes)).tolist(),
        record_modes=dict(jpg=int((modes == JPEG).sum()),
                          raw=int((modes == RAW).sum()),
                          png=int((modes == PNG).sum())),
        max_height=int(image['height'].max()),
        max_width=int(image['width'].max()),
        file_bytes=osp.getsize(output))
