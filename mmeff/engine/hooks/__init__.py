from .efficient_train_hook import EfficientTrainHook
from .epoch_seed_hook import EpochSeedHook
from .feature_probe_hook import FeatureProbeHook
from .progressive_resolution_hook import ProgressiveResolutionHook

__all__ = [
    'EfficientTrainHook', 'EpochSeedHook', 'FeatureProbeHook',
    'ProgressiveResolutionHook'
]
