"""A Runner that builds ESSL loaders from ``type='ESSLLoader'`` configs.

MMEngine 0.10.7's ``Runner.build_dataloader`` always constructs a torch
``DataLoader`` from a config dict. Overriding that one static method (rather
than writing custom loops) keeps every stock loop, hook, resume and
evaluation path unchanged: ``runner_type = 'ESSLRunner'`` in a config is the
only switch, and dataloaders of any other type are built as before.
"""
from mmengine.dist import get_rank
from mmengine.runner import Runner
from mmpretrain.registry import RUNNERS

from .loader import ESSLLoader, build_essl_loader


@RUNNERS.register_module()
class ESSLRunner(Runner):
    """MMEngine Runner that also accepts ``dict(type='ESSLLoader', ...)``."""

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
