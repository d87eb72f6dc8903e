"""mmeff: efficient self-supervised pretraining for MMPretrain.

Importing the package registers every mmeff component into
``mmpretrain.registry`` and allow-lists the types of MMEngine checkpoints for
torch's ``weights_only`` default (nothing else upstream changes), so a config
needs only
``custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)``.
"""
# Importing the subpackages registers their components.
from . import condense, data, engine, evaluation, models  # noqa: F401
from .engine import allow_mmengine_checkpoints
from .version import __version__

allow_mmengine_checkpoints()

__all__ = ['__version__']
