from .epoch_seed_hook import EpochSeedHook
from .feature_probe_hook import FeatureProbeHook

__all__ = ['EpochSeedHook', 'FeatureProbeHook']
