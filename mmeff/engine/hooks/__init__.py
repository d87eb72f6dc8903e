from .compiled_step_hook import CompiledStepHook
from .efficient_train_hook import EfficientTrainHook
from .epoch_seed_hook import EpochSeedHook
from .feature_probe_hook import FeatureProbeHook
from .progressive_resolution_hook import ProgressiveResolutionHook
from .runtime_info_hook import BufferedRuntimeInfoHook

__all__ = [
    'BufferedRuntimeInfoHook', 'CompiledStepHook', 'EfficientTrainHook',
    'EpochSeedHook', 'FeatureProbeHook', 'ProgressiveResolutionHook'
]
