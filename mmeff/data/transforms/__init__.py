from .color_jitter import HueSafeColorJitter
from .multi_patch import MultiPatch

__all__ = ['HueSafeColorJitter', 'MultiPatch']
