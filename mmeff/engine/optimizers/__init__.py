from .lars_exclusion_constructor import LARSExclusionOptimWrapperConstructor
from .lars_sgd import LARSWrappedSGD

__all__ = ['LARSExclusionOptimWrapperConstructor', 'LARSWrappedSGD']
