"""Fail fast, naming the path, when a config points at missing data."""
import os
import os.path as osp

from mmeff.errors import MMEffError

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif')


class DatasetError(MMEffError, ValueError):
    """A dataset folder or annotation file is missing or holds no images."""


def _has_image(folder):
    for _, _, files in os.walk(folder, followlinks=True):
        if any(f.lower().endswith(IMAGE_EXTENSIONS) for f in files):
            return True
    return False


def check_image_folder(folder):
    """Raise :class:`DatasetError` unless ``folder`` holds an image file."""
    if not osp.isdir(folder):
        raise DatasetError(f'dataset folder not found: {folder}')
    if not _has_image(folder):
        raise DatasetError(
            f'dataset folder has no images ({", ".join(IMAGE_EXTENSIONS)}): '
            f'{folder}')


def _check_dataset_cfg(dataset):
    if not isinstance(dataset, dict):
        return  # an already-built dataset object checks itself
    for key in ('dataset', 'datasets'):  # Concat/Repeat/ClassBalanced wrappers
        inner = dataset.get(key)
        for sub in inner if isinstance(inner, (list, tuple)) else [inner]:
            _check_dataset_cfg(sub)
    if 'data_root' not in dataset and 'data_prefix' not in dataset:
        return
    root = dataset.get('data_root') or ''
    ann_file = dataset.get('ann_file') or ''
    prefix = dataset.get('data_prefix') or ''
    if isinstance(prefix, dict):
        prefix = prefix.get('img_path', '')
    if root and not osp.isdir(root):
        raise DatasetError(f'dataset root not found: {root}')
    if ann_file:
        path = ann_file if osp.isabs(ann_file) else osp.join(root, ann_file)
        if not osp.isfile(path):
            raise DatasetError(f'annotation file not found: {path}')
    elif dataset.get('split') is None or prefix:
        # CustomDataset scans <data_root>/<data_prefix> for class folders.
        folder = prefix if osp.isabs(prefix) else osp.join(root, prefix)
        check_image_folder(folder)


def _check_essl_path(loader):
    path = loader.get('path')
    if loader.get('type') == 'ESSLLoader' and isinstance(path, str) and \
            not osp.isfile(path):
        raise DatasetError(
            f'ESSL file not found: {path} (write it with tools/'
            'dataset_converters/essl_writer.py)')


def check_data_paths(cfg, loaders=('train_dataloader', 'val_dataloader')):
    """Check the dataset paths of ``cfg``'s ``loaders`` before a run."""
    for name in loaders:
        loader = cfg.get(name)
        if isinstance(loader, dict):
            _check_essl_path(loader)
            _check_dataset_cfg(loader.get('dataset'))


def check_train_batches(runner):
    """Build ``runner``'s training loop and refuse a loader with no batch.

    A batch larger than the data set with ``drop_last=True`` would otherwise
    fail deep inside MMEngine's schedulers (``epoch_length must be a
    positive integer``) or, iteration-based, wait forever.
    """
    dataloader = runner.train_loop.dataloader
    if len(dataloader) > 0:
        return
    batch_size = getattr(dataloader, 'batch_size', None)
    dataset = getattr(dataloader, 'dataset', None)
    size = len(dataset) if dataset is not None else 'fewer'
    raise DatasetError(
        f'train_dataloader: batch_size={batch_size} is larger than the '
        f'{size} images of the training set (per rank), and drop_last=True '
        'leaves no batch; lower train_dataloader.batch_size or set '
        'drop_last=False')
