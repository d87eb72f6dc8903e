from .bf16_optim_wrapper import BF16OptimWrapper
from .lars_exclusion_constructor import LARSExclusionOptimWrapperConstructor
from .lars_sgd import LARSWrappedSGD
from .layer_decay_constructor import BackboneLayerDecayOptimWrapperConstructor
from .merged_groups_constructor import MergedGroupsOptimWrapperConstructor

__all__ = [
    'BF16OptimWrapper', 'BackboneLayerDecayOptimWrapperConstructor',
    'LARSExclusionOptimWrapperConstructor', 'LARSWrappedSGD',
    'MergedGroupsOptimWrapperConstructor'
]
