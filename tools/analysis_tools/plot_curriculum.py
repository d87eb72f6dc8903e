#!/usr/bin/env python
"""Draw a config's curriculum: resolution, RandAugment magnitude and LR.

  python tools/analysis_tools/plot_curriculum.py CONFIG --out schedule.png \
      [--iters-per-epoch 100]

Reads the config's ProgressiveResolutionHook or EfficientTrainHook and its
param_scheduler, and plots each quantity against the epoch and against the
fraction of compute spent (an epoch at size s costs (s/R)^2 of one at the
largest size R).
"""
import argparse
import os
import sys


def simulate(cfg, iters_per_epoch):
    import torch
    from mmengine.optim import OptimWrapper
    from mmpretrain.registry import HOOKS, PARAM_SCHEDULERS

    from mmeff.engine.curricula import randaugment_magnitude

    hooks = [h for h in cfg.get('custom_hooks', []) if h['type'] in
             ('ProgressiveResolutionHook', 'EfficientTrainHook')]
    if not hooks:
        raise SystemExit('plot_curriculum: error: the config has no '
                         'ProgressiveResolutionHook or EfficientTrainHook')
    hook = HOOKS.build(dict(hooks[0]))
    max_epochs = cfg.train_cfg.max_epochs
    base_lr = cfg.optim_wrapper.optimizer.lr
    patch = cfg.model.backbone.get('patch_size', 16)
    sizes, magnitudes, lrs = [], [], []
    if hooks[0]['type'] == 'EfficientTrainHook':
        plan = hook.build_schedule(patch)
        max_epochs = plan.total_epochs
        for epoch in range(max_epochs):
            sizes.append(plan.bandwidth(epoch))
            magnitudes.append(randaugment_magnitude(plan.fraction(epoch),
                                                    hook.max_magnitude))
    else:
        if hook.scale_to is not None:
            from mmeff.engine.curricula import Stage, scale_sizes
            scaled = scale_sizes([s.size for s in hook.stages], hook.scale_to,
                                 multiple_of=patch)
            hook.stages = [Stage(s.begin, n) for s, n in zip(hook.stages, scaled)]
        sizes = [hook.stage_for_epoch(e, max_epochs).size
                 for e in range(max_epochs)]
        magnitudes = [None] * max_epochs
    # EfficientTrainLR or any MMEngine LR schedule, stepped as the Runner does.
    param = torch.zeros(1, requires_grad=True)
    wrapper = OptimWrapper(torch.optim.SGD([param], lr=base_lr))
    schedulers = [PARAM_SCHEDULERS.build(
        dict(s), default_args=dict(optimizer=wrapper,
                                   epoch_length=iters_per_epoch))
        for s in cfg.get('param_scheduler') or []]
    for _ in range(max_epochs):
        for _ in range(iters_per_epoch):
            lrs.append(wrapper.get_lr()['lr'][0])
            for s in schedulers:
                if not s.by_epoch:
                    s.step()
        for s in schedulers:
            if s.by_epoch:
                s.step()
    full = max(sizes)
    costs = [(s / full)**2 for s in sizes]
    total = sum(costs)
    compute = [sum(costs[:e]) / total for e in range(max_epochs)]
    return sizes, magnitudes, lrs, compute, costs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('--out', default='curriculum.png')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out file')
    parser.add_argument('--iters-per-epoch', type=int, default=100)
    args = parser.parse_args(argv)
    if not args.overwrite and os.path.lexists(args.out):
        parser.exit(2, f'plot_curriculum: error: {args.out} already exists; '
                    'pass --overwrite to replace it\n')
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from mmpretrain.utils import register_all_modules

    import mmeff  # noqa: F401
    from mmeff.engine.config import load_config
    register_all_modules()
    cfg = load_config(args.config)
    sizes, magnitudes, lrs, compute, costs = simulate(cfg, args.iters_per_epoch)
    epochs = list(range(len(sizes)))
    n = args.iters_per_epoch
    iter_epoch = [i / n for i in range(len(lrs))]
    iter_compute = [compute[int(x)] + (x - int(x)) * costs[int(x)] / sum(costs)
                    for x in iter_epoch]

    fig, axes = plt.subplots(3, 2, figsize=(10, 8), sharey='row')
    # Each step holds until the next epoch starts; close the last one.
    for col, (xs, xi, label) in enumerate(
            [(epochs + [len(epochs)], iter_epoch, 'epoch'),
             (compute + [1.0], iter_compute, 'fraction of compute')]):
        axes[0, col].step(xs, sizes + sizes[-1:], where='post')
        axes[0, col].set_ylabel('resolution / bandwidth')
        if any(m is not None for m in magnitudes):
            axes[1, col].step(xs, magnitudes + magnitudes[-1:], where='post',
                              color='C1')
        axes[1, col].set_ylabel('RandAugment magnitude')
        axes[2, col].plot(xi, lrs, color='C2')
        axes[2, col].set_ylabel('learning rate')
        axes[2, col].set_xlabel(label)
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
    fig.suptitle(args.config)
    fig.tight_layout()
    from mmeff.engine.outputs import atomic_output
    with atomic_output(args.out) as tmp:
        fig.savefig(tmp, dpi=110, format=os.path.splitext(args.out)[1][1:]
                    or 'png')
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
