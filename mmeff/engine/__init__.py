from .checkpoint import CheckpointError, register_checkpoint_loader
from .config import ConfigError, load_config, strip_collate_scope
from .dist import prepare_cpu_distributed
from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403

__all__ = [
    'CheckpointError', 'ConfigError', 'load_config', 'prepare_cpu_distributed',
    'register_checkpoint_loader', 'strip_collate_scope'
]
