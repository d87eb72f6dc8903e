from .atomic_checkpoint_hook import AtomicCheckpointHook
from .compiled_step_hook import CompiledStepHook
from .efficient_train_hook import EfficientTrainHook
from .epoch_seed_hook import EpochSeedHook
from .feature_probe_hook import FeatureProbeHook
from .finite_loss_hook import FiniteLossHook, NonFiniteLossError
from .linear_probe_init_hook import LinearProbeInitHook
from .progressive_resolution_hook import ProgressiveResolutionHook
from .runtime_info_hook import BufferedRuntimeInfoHook

__all__ = [
    'AtomicCheckpointHook', 'BufferedRuntimeInfoHook', 'CompiledStepHook',
    'EfficientTrainHook', 'EpochSeedHook', 'FeatureProbeHook',
    'FiniteLossHook', 'LinearProbeInitHook', 'NonFiniteLossError',
    'ProgressiveResolutionHook'
]
