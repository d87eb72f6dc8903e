"""Param groups that share their settings, merged into one group each."""
from mmengine.optim import DefaultOptimWrapperConstructor
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS


def merge_param_groups(groups):
    """Merge the groups whose options (all but ``params``) are equal.

    Keeps the order of first appearance, and of the parameters in a group.
    """
    merged = {}
    for group in groups:
        options = {k: v for k, v in group.items() if k != 'params'}
        key = repr(sorted(options.items()))
        if key in merged:
            merged[key]['params'].extend(group['params'])
        else:
            merged[key] = dict(options, params=list(group['params']))
    return list(merged.values())


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MergedGroupsOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """:class:`~mmengine.optim.DefaultOptimWrapperConstructor`, one group per
    distinct setting instead of one per parameter.

    With a ``paramwise_cfg`` (MAE's: no weight decay on norms, biases and
    tokens) MMEngine puts every parameter in its own param group, and
    PyTorch's optimizers loop over groups in Python, so the foreach/fused
    AdamW kernels run once per parameter (a few hundred times a step for a
    ViT-B MAE) and the step's fixed cost grows with the parameter count.
    The update of every parameter is unchanged (each keeps its lr, decay
    and other multipliers); parameter schedulers scale every group alike.
    Optimizer state saved with one layout does not load into the other.
    """

    def add_params(self, params, module, prefix='', is_dcn_module=None):
        if prefix:  # the parent's recursion into submodules
            return super().add_params(params, module, prefix, is_dcn_module)
        groups = []
        super().add_params(groups, module, prefix, is_dcn_module)
        params.extend(merge_param_groups(groups))
