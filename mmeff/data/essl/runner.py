"""A Runner that builds ESSL loaders from ``type='ESSLLoader'`` configs.

MMEngine 0.10.7's ``Runner.build_dataloader`` always constructs a torch
``DataLoader`` from a config dict. Overriding that one static method (rather
than writing custom loops) keeps every stock loop, hook, resume and
evaluation path unchanged: ``runner_type = 'ESSLRunner'`` in a config is the
only switch, and dataloaders of any other type are built as before.

:func:`check_essl_config` refuses, before anything is built, what would
otherwise fail deep in a run or train silently on wrong input: an ESSL
loader under another Runner, an mmeff built without the compiled decoder,
and a data preprocessor that swaps the channels of the RGB batches ESSL
delivers.
"""
from mmengine.dist import get_rank
from mmengine.runner import Runner
from mmpretrain.registry import RUNNERS

from mmeff.errors import ConfigError

from .loader import ESSLLoader, build_essl_loader

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def essl_loader_names(cfg):
    """The dataloaders of ``cfg`` that are ESSL loaders."""
    return [name for name in LOADERS
            if isinstance(cfg.get(name), dict)
            and cfg[name].get('type') in ('ESSLLoader', ESSLLoader)]


def _is_essl_runner(runner_type):
    if isinstance(runner_type, str):
        runner_type = RUNNERS.get(runner_type)
    return isinstance(runner_type, type) and issubclass(runner_type,
                                                        ESSLRunner)


def effective_to_rgb(cfg):
    """``to_rgb`` of the data preprocessor the Runner will build: the
    model's own, else the top-level ``data_preprocessor`` (MMEngine merges
    it only into a model without one); MMPretrain's default is False."""
    model = cfg.get('model')
    preprocessor = model.get('data_preprocessor') if isinstance(
        model, dict) else None
    if preprocessor is None:
        preprocessor = cfg.get('data_preprocessor') or {}
    return bool(preprocessor.get('to_rgb', False))


def check_essl_config(cfg, source='config'):
    """Raise :class:`ConfigError` (one line) if ``cfg``'s ESSL loaders
    cannot run as configured."""
    names = essl_loader_names(cfg)
    if not names:
        return
    if not _is_essl_runner(cfg.get('runner_type')):
        raise ConfigError(
            f"{source}: {names[0]} has type='ESSLLoader', which only "
            "ESSLRunner builds; add runner_type = 'mmpretrain.ESSLRunner'")
    try:
        from . import _lib  # noqa: F401  the compiled decoder
    except ImportError as err:
        raise ConfigError(f'{source}: {names[0]}: {err}') from None
    if effective_to_rgb(cfg):
        raise ConfigError(
            f'{source}: data_preprocessor.to_rgb=True would swap the '
            'channels of the RGB batches ESSLLoader delivers '
            f'({names[0]}); set to_rgb=False (model.data_preprocessor, or '
            'the top-level data_preprocessor)')


@RUNNERS.register_module()
class ESSLRunner(Runner):
    """MMEngine Runner that also accepts ``dict(type='ESSLLoader', ...)``."""

    @classmethod
    def from_cfg(cls, cfg):
        # Also under MMPretrain's own tools, which build runners this way.
        check_essl_config(cfg, getattr(cfg, 'filename', None) or 'config')
        return super().from_cfg(cfg)

    @staticmethod
    def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
        if isinstance(dataloader, dict) and dataloader.get('type') in (
                'ESSLLoader', ESSLLoader):
            # The shuffle order must agree across ranks: undo the per-rank
            # offset MMEngine adds to the seed under diff_rank_seed.
            if seed is not None and diff_rank_seed:
                seed = seed - get_rank()
            return build_essl_loader(dataloader, seed=seed)
        return Runner.build_dataloader(dataloader, seed=seed,
                                       diff_rank_seed=diff_rank_seed)
