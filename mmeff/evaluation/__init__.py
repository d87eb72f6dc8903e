from .features import extract_features, pool_tokens, preprocess
from .probes import knn_top1, linear_probe_top1
from .reconstruction import mae_reconstruct, save_reconstruction_grid

__all__ = [
    'extract_features', 'knn_top1', 'linear_probe_top1', 'mae_reconstruct',
    'pool_tokens', 'preprocess', 'save_reconstruction_grid'
]
