"""mmeff: efficient self-supervised pretraining for MMPretrain.

Importing the package registers every mmeff component into
``mmpretrain.registry`` and allow-lists the types of MMEngine checkpoints for
torch's ``weights_only`` default (nothing else upstream changes), so a config
needs only
``custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)``.
"""
from .version import __version__
from .engine import allow_mmengine_checkpoints

from . import data, engine, evaluation, models  # noqa: F401,E402  registers
from . import condense  # noqa: F401,E402  registers SRe2L components

allow_mmengine_checkpoints()

__all__ = ['__version__']
