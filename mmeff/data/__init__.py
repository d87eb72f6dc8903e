from . import essl  # noqa: F401  registers the ESSL runner/transforms
from .bundled import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    load_fashion_mnist,
    prepare_fashion_mnist,
)
from .checks import DatasetError, check_data_paths, check_image_folder
from .transforms import MultiPatch  # noqa: F401  registers

__all__ = [
    'DatasetError', 'FASHION_MNIST_CLASSES', 'FASHION_MNIST_MEAN',
    'FASHION_MNIST_STD', 'check_data_paths', 'check_image_folder',
    'load_fashion_mnist', 'prepare_fashion_mnist'
]
