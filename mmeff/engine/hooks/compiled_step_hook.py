"""Make MMEngine's compiled ``train_step`` one graph per input shape."""
import torch
from mmengine.hooks import Hook
from mmengine.utils import digit_version
from mmpretrain.registry import HOOKS

from mmeff.engine.utils import unwrap_model


def _dynamo_graph_count():
    from torch._dynamo.utils import counters
    return counters['stats']['unique_graphs']


@HOOKS.register_module()
class CompiledStepHook(Hook):
    """Companion of the Runner's ``compile`` setting for mmeff's models.

    MMEngine compiles the whole ``train_step``, optimizer step included, and
    the learning rate, a Python float that changes every iteration under a
    warm-up or cosine schedule, then invalidates the compiled optimizer
    graph each step; the data preprocessor's handling of data samples
    (their file names, flip flags) likewise changes every batch. With this
    hook the model's loss (forward, and the backward graph AOTAutograd
    derives from it) and the loss parsing are compiled, while the data
    preprocessor's forward and ``optim_wrapper.update_params`` run eagerly
    (the fused AdamW kernel already is one). A new input shape (a
    resolution of a curriculum, EfficientTrain++'s bandwidth) compiles one
    more graph; at most ``max_graphs`` per code path are kept before the
    step falls back to eager, and every new graph is logged. Random masks
    use eager's generator (inductor's ``fallback_random``), so a compiled
    run draws the masks an eager run draws.

    Use with ``compile = dict(dynamic=False)`` and
    ``custom_hooks = [..., dict(type='CompiledStepHook')]``; without a
    ``compile`` setting the hook does nothing.

    Args:
        max_graphs (int): the recompile limit per compiled frame.
            Defaults to 8.
    """

    priority = 'LOW'

    def __init__(self, max_graphs=8):
        self.max_graphs = max_graphs
        self.enabled = False

    def before_train(self, runner):
        self.enabled = bool(runner.cfg.get('compile'))
        if not self.enabled:
            return
        if digit_version(torch.__version__) < digit_version('2.1.0'):
            raise RuntimeError('CompiledStepHook needs torch >= 2.1')
        from torch._dynamo import config as dynamo_config
        from torch._inductor import config as inductor_config
        limit = ('recompile_limit' if hasattr(dynamo_config, 'recompile_limit')
                 else 'cache_size_limit')
        setattr(dynamo_config, limit, self.max_graphs)
        inductor_config.fallback_random = True
        wrapper = runner.optim_wrapper
        wrapper.update_params = torch.compiler.disable(wrapper.update_params)
        model = unwrap_model(runner.model)
        pre = model.data_preprocessor
        pre.forward = torch.compiler.disable(pre.forward)
        self.graphs = _dynamo_graph_count()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if not self.enabled:
            return
        graphs = _dynamo_graph_count()
        if graphs != self.graphs:
            runner.logger.info(
                f'CompiledStepHook: {graphs - self.graphs} new graph(s) at '
                f'iteration {runner.iter + 1}; {graphs} in all, at most '
                f'{self.max_graphs} per compiled function')
            self.graphs = graphs
        runner.message_hub.update_scalar('train/compiled_graphs', graphs)
