"""The bundled default data set: a class-balanced Fashion-MNIST subset.

Fashion-MNIST (Xiao et al., 2017; MIT licence, Zalando SE) holds real product
photographs, 28x28 grayscale, in 10 classes. Debian ships it as the package
``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``), so it is
available on a machine that reaches only package registries, and it is real
labelled imagery rather than 8x8 digits. :func:`prepare_fashion_mnist` writes
a subset in the ImageNet class-folder layout MMPretrain's ``CustomDataset``
reads: ``<root>/train/<class>/*.png`` and ``<root>/val/<class>/*.png``, and
optionally the whole training split without labels.
"""
import gzip
import json
import os
import os.path as osp
import shutil

import numpy as np
from PIL import Image

from ..fileio import atomic_write_bytes

FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist'
FASHION_MNIST_CLASSES = ('t-shirt', 'trouser', 'pullover', 'dress', 'coat',
                         'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot')
# Pixel statistics of the Fashion-MNIST training set on a 0-255 scale,
# replicated to the three channels LoadImageFromFile produces.
FASHION_MNIST_MEAN = [72.94] * 3
FASHION_MNIST_STD = [90.02] * 3
# Where the unlabelled pool goes: <root>/unlabelled/images/*.png.
UNLABELLED_SPLIT = 'unlabelled'
UNLABELLED_FOLDER = 'images'


def _read_idx(path, header):
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} is missing: install the Debian package '
            '`dataset-fashion-mnist` (tools/setup_env.sh does)')
    with gzip.open(path, 'rb') as f:
        return np.frombuffer(f.read(), np.uint8, offset=header)


def load_fashion_mnist(split, source=FASHION_MNIST_DIR):
    """Return ``(images uint8 [N, 28, 28], labels int64 [N])`` of a split."""
    prefix = {'train': 'train', 'test': 't10k'}[split]
    images = _read_idx(osp.join(source, f'{prefix}-images-idx3-ubyte.gz'), 16)
    labels = _read_idx(osp.join(source, f'{prefix}-labels-idx1-ubyte.gz'), 8)
    return images.reshape(-1, 28, 28), labels.astype(np.int64)


def _balanced_subset(labels, per_class, rng):
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class]
             for c in range(len(FASHION_MNIST_CLASSES))]
    return np.sort(np.concatenate(picks))


def _save_pngs(jobs):
    for array, path in jobs:
        Image.fromarray(array).save(path)


def _write_pngs(jobs, num_workers):
    """Save ``(uint8 array, path)`` pairs as PNGs, on ``num_workers``."""
    if num_workers <= 1 or len(jobs) < 1000:
        return _save_pngs(jobs)
    from multiprocessing import get_context
    chunks = [jobs[i::num_workers] for i in range(num_workers)]
    with get_context('fork').Pool(num_workers) as pool:
        pool.map(_save_pngs, chunks)


def _split_jobs(root, split, source_split, picks, images, labels):
    jobs = []
    for idx in picks:
        folder = (UNLABELLED_FOLDER if labels is None
                  else FASHION_MNIST_CLASSES[labels[idx]])
        jobs.append((images[idx],
                     osp.join(root, split, folder, f'{source_split}_{idx:05d}.png')))
    return jobs


def prepare_fashion_mnist(root, train_per_class=200, val_per_class=100,
                          seed=0, source=FASHION_MNIST_DIR, num_unlabelled=0,
                          num_workers=2):
    """Write a class-balanced Fashion-MNIST subset as class folders of PNGs.

    ``train`` is drawn from the official training split and ``val`` from the
    official test split, so the held-out evaluation never sees pretraining
    images (``val_per_class=1000`` is the whole test split). With
    ``num_unlabelled`` > 0, that many official training images (60,000: all
    of them; fewer: a seeded random pick) are also written without their
    labels to ``<root>/unlabelled/images/`` (one folder, so a class-folder
    reader sees a single class): the pool that self-supervised pretraining
    draws from, of which ``train`` is the labelled part. Re-running with the
    same arguments reuses the files.

    Returns:
        dict: the sidecar written to ``<root>/meta.json``.
    """
    meta = dict(dataset='fashion-mnist', source=source, seed=seed,
                train_per_class=train_per_class, val_per_class=val_per_class,
                classes=list(FASHION_MNIST_CLASSES), image_size=28)
    if num_unlabelled:
        meta['num_unlabelled'] = num_unlabelled
    meta_path = osp.join(root, 'meta.json')
    if osp.isfile(meta_path):
        with open(meta_path) as f:
            if json.load(f) == meta:
                return meta
        # Written here before with other arguments: start the splits afresh.
        for split in ('train', 'val', UNLABELLED_SPLIT):
            shutil.rmtree(osp.join(root, split), ignore_errors=True)
    rng = np.random.default_rng(seed)
    jobs = []
    for split, source_split, per_class in (('train', 'train', train_per_class),
                                           ('val', 'test', val_per_class)):
        images, labels = load_fashion_mnist(source_split, source)
        for c in FASHION_MNIST_CLASSES:
            os.makedirs(osp.join(root, split, c), exist_ok=True)
        jobs += _split_jobs(root, split, source_split,
                            _balanced_subset(labels, per_class, rng),
                            images, labels)
        if num_unlabelled and split == 'train':
            os.makedirs(osp.join(root, UNLABELLED_SPLIT, UNLABELLED_FOLDER),
                        exist_ok=True)
            pool = np.random.default_rng(seed).permutation(len(images))
            jobs += _split_jobs(root, UNLABELLED_SPLIT, source_split,
                                np.sort(pool[:num_unlabelled]), images, None)
    _write_pngs(jobs, num_workers)
    # Written last and whole: its presence says the folder is complete.
    atomic_write_bytes(meta_path, json.dumps(meta, indent=2).encode())
    return meta
