"""Config loading that makes inherited ``mmpretrain::`` configs train as-is."""
import os.path as osp

from mmengine.config import Config, ConfigDict

from mmeff.errors import ConfigError

__all__ = ['ConfigError', 'load_config']


def load_config(path, cfg_options=None):
    """Read a config file, apply ``--cfg-options`` and repair known issues.

    Raises:
        ConfigError: ``path`` does not exist or is not a valid config.
    """
    if not osp.isfile(path):
        raise ConfigError(f'config file not found: {path}')
    try:
        cfg = Config.fromfile(path)
    except Exception as err:  # a syntax or inheritance error in user code
        raise ConfigError(f'{path}: cannot be parsed ({type(err).__name__}: '
                          f'{err})') from err
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    strip_collate_scope(cfg)
    return cfg


def strip_collate_scope(cfg):
    """Drop the ``_scope_`` key MMEngine stamps into inherited ``collate_fn``.

    Inheriting ``mmpretrain::`` configs adds ``_scope_`` to every dict with a
    ``type``. MMEngine 0.10.7's Runner forwards the remaining keys of
    ``collate_fn`` to the function itself, so ``default_collate`` receives an
    unexpected ``_scope_`` argument. Collate functions live in MMEngine's
    ``FUNCTIONS`` registry whatever the scope, so the key carries nothing.
    """
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if isinstance(loader, (dict, ConfigDict)):
            collate = loader.get('collate_fn')
            if isinstance(collate, (dict, ConfigDict)):
                collate.pop('_scope_', None)
    return cfg


def drop_amp_without_accelerator(cfg, logger=None):
    """Train an ``AmpOptimWrapper`` config in fp32 where no accelerator is.

    MMEngine's ``AmpOptimWrapper`` refuses to build without CUDA/NPU/MLU, and
    the upstream MAE configs use it, so on a CPU host the wrapper becomes a
    plain ``OptimWrapper`` (its optimizer and clipping settings kept).
    Returns True if the config was changed.
    """
    from mmengine.device import get_device
    wrapper = cfg.get('optim_wrapper')
    if not isinstance(wrapper, dict) or get_device() != 'cpu' or \
            wrapper.get('type') != 'AmpOptimWrapper':
        return False
    wrapper['type'] = 'OptimWrapper'
    for key in ('loss_scale', 'dtype', 'use_fsdp'):
        wrapper.pop(key, None)
    if logger is not None:
        logger.warning('AMP needs an accelerator; training in float32 on CPU')
    return True
