"""ESSL: FFCV-based storage, crop-decode loaders and batch transforms.

Importing this package registers the Runner and the batch transforms; FFCV
itself is imported only when a file is written or read, so projects that keep
the stock torch DataLoader path never need it.
"""
from .loader import ESSLLoader, build_essl_loader
from .reader import CorruptRecordError, ESSLFileError, ESSLRecords
from .runner import ESSLRunner
from .streams import CropStream, crop_stream
from .transforms import (
    BatchColorJitter,
    BatchGaussianBlur,
    BatchGrayscale,
    BatchMultiPatchCrop,
    BatchNormalize,
    BatchRandAugment,
    BatchRandomFlip,
    BatchSolarize,
    BatchThreeAugment,
    build_batch_transforms,
)
from .writer import read_sidecar, write_essl

__all__ = [
    'CorruptRecordError', 'CropStream', 'ESSLFileError', 'ESSLRecords',
    'BatchColorJitter', 'BatchGaussianBlur', 'BatchGrayscale',
    'BatchMultiPatchCrop', 'BatchNormalize', 'BatchRandAugment',
    'BatchRandomFlip', 'BatchSolarize', 'BatchThreeAugment', 'ESSLLoader',
    'ESSLRunner', 'build_batch_transforms', 'build_essl_loader',
    'crop_stream', 'read_sidecar', 'write_essl'
]
