from .checkpoint import CheckpointError, allow_mmengine_checkpoints, check_checkpoint
from .config import ConfigError, load_config, strip_collate_scope
from .dist import prepare_cpu_distributed
from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403
from .schedulers import *  # noqa: F401,F403

__all__ = [
    'CheckpointError', 'ConfigError', 'allow_mmengine_checkpoints',
    'check_checkpoint', 'load_config', 'prepare_cpu_distributed',
    'strip_collate_scope'
]
