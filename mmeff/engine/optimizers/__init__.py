from .lars_exclusion_constructor import LARSExclusionOptimWrapperConstructor
from .lars_sgd import LARSWrappedSGD
from .layer_decay_constructor import BackboneLayerDecayOptimWrapperConstructor

__all__ = [
    'BackboneLayerDecayOptimWrapperConstructor',
    'LARSExclusionOptimWrapperConstructor', 'LARSWrappedSGD'
]
