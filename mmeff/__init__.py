"""mmeff: efficient self-supervised pretraining for MMPretrain.

Importing the package registers every mmeff component into
``mmpretrain.registry`` and makes MMEngine checkpoints load under torch's
``weights_only`` default, so a config needs only
``custom_imports = dict(imports=['mmeff'], allow_failed_imports=False)``.
"""
from .version import __version__
from .engine import register_checkpoint_loader

from . import data, engine, evaluation, models  # noqa: F401,E402  registers
from . import condense  # noqa: F401,E402  registers SRe2L components

register_checkpoint_loader()

__all__ = ['__version__']
