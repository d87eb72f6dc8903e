from .bag_of_features import (
                              LINEAR_PROTOCOLS,
                              extract_bag_of_features,
                              linear_probe,
                              probe_bag_of_features,
                              sgd_linear_probe,
)
from .features import extract_features, pool_tokens, preprocess
from .probes import fit_linear_probe, knn_top1, linear_probe_top1
from .reconstruction import mae_reconstruct, save_reconstruction_grid

__all__ = [
    'LINEAR_PROTOCOLS', 'extract_bag_of_features', 'extract_features',
    'fit_linear_probe', 'knn_top1', 'linear_probe', 'linear_probe_top1',
    'mae_reconstruct', 'pool_tokens', 'preprocess', 'probe_bag_of_features',
    'save_reconstruction_grid', 'sgd_linear_probe'
]
