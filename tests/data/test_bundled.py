"""The bundled Fashion-MNIST subset and dataset path checks."""
import json
import os
import os.path as osp

import pytest
from PIL import Image

from mmeff.data import (
    FASHION_MNIST_CLASSES,
    DatasetError,
    check_data_paths,
    check_image_folder,
    prepare_fashion_mnist,
)


def count(root, split):
    return {c: len(os.listdir(osp.join(root, split, c)))
            for c in FASHION_MNIST_CLASSES}


def test_writes_balanced_class_folders(tiny_image_folder):
    assert count(tiny_image_folder, 'train') == dict.fromkeys(FASHION_MNIST_CLASSES, 4)
    assert count(tiny_image_folder, 'val') == dict.fromkeys(FASHION_MNIST_CLASSES, 2)
    sample = osp.join(tiny_image_folder, 'train', 'bag')
    img = Image.open(osp.join(sample, sorted(os.listdir(sample))[0]))
    assert img.size == (28, 28) and img.mode == 'L'
    with open(osp.join(tiny_image_folder, 'meta.json')) as f:
        assert json.load(f)['classes'] == list(FASHION_MNIST_CLASSES)


def test_train_and_val_come_from_different_official_splits(tiny_image_folder):
    names = {split: {f for c in FASHION_MNIST_CLASSES
                     for f in os.listdir(osp.join(tiny_image_folder, split, c))}
             for split in ('train', 'val')}
    assert all(f.startswith('train_') for f in names['train'])
    assert all(f.startswith('test_') for f in names['val'])


def test_second_call_reuses_files(tiny_image_folder):
    stamp = os.stat(osp.join(tiny_image_folder, 'meta.json')).st_mtime_ns
    prepare_fashion_mnist(tiny_image_folder, train_per_class=4, val_per_class=2)
    assert os.stat(osp.join(tiny_image_folder, 'meta.json')).st_mtime_ns == stamp


def test_missing_source_names_the_debian_package(tmp_path):
    with pytest.raises(FileNotFoundError, match='dataset-fashion-mnist'):
        prepare_fashion_mnist(str(tmp_path / 'out'), source=str(tmp_path))


def test_folder_without_images_is_refused(tmp_path):
    (tmp_path / 'cls').mkdir()
    (tmp_path / 'cls' / 'readme.txt').write_text('no images here')
    with pytest.raises(DatasetError, match='no images'):
        check_image_folder(str(tmp_path))
    with pytest.raises(DatasetError, match='not found'):
        check_image_folder(str(tmp_path / 'absent'))


def test_config_paths_checked_through_dataset_wrappers(tmp_path):
    cfg = dict(train_dataloader=dict(dataset=dict(
        type='RepeatDataset', times=2,
        dataset=dict(type='CustomDataset', data_root=str(tmp_path),
                     data_prefix='train'))))
    with pytest.raises(DatasetError, match=str(tmp_path / 'train')):
        check_data_paths(cfg)
    cfg['train_dataloader']['dataset']['dataset']['ann_file'] = 'ann.txt'
    with pytest.raises(DatasetError, match='annotation file not found'):
        check_data_paths(cfg)
