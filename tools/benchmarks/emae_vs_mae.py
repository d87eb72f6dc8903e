#!/usr/bin/env python
"""EMAE vs MAE at equal wall time on the bundled data (CPU).

Same tiny ViT (configs/quickstart), same data (the quickstart's: pretraining
on the unlabelled training images, probes fitted on the labelled split and
scored on the held-out test images), same training budget in seconds.
Each run first measures its own seconds per iteration, then sets an
iteration-based cosine schedule that ends at the budget, so both finish a
full schedule. By default EMAE's batch is MAE's divided by K, so both train
the same number of MAE tasks (images x parts) per iteration at about the
same cost per iteration; ``--emae-batch`` changes that. A FeatureProbeHook
records held-out kNN and linear-probe top-1 against training wall time.
``--lambdas`` runs EMAE once per consistency weight (``--consistency-average``
says which normalisation the weights are in; see SelfConsistencyLoss). Prints
JSON: images/s, patches reconstructed/s, final proxies, and the time each
EMAE run needs to reach MAE's final proxy as a fraction of MAE's time.

  python tools/benchmarks/emae_vs_mae.py --budget 180 --lambdas 0 0.1 0.5 \
      --out work_dirs/bench_emae
"""
import argparse
import os
import os.path as osp
import sys

CONFIGS = dict(
    mae='configs/quickstart/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist.py',
    emae='configs/emae/emae_vit-tiny-p4_1xb16-coslr-10e_fashion-mnist.py')


def configure(name, budget, work_dir, data_root, probe_every, batch=None,
              consistency=None):
    from mmeff.apis.benchmarking import seconds_per_iteration
    from mmeff.engine.config import load_config
    cfg = load_config(CONFIGS[name.split('_')[0]])
    for key in ('train_dataloader', 'probe_dataloaders.train',
                'probe_dataloaders.val'):
        cfg.merge_from_dict({f'{key}.dataset.data_root': data_root})
    cfg.train_dataloader.dataset.data_prefix = 'unlabelled'
    cfg.work_dir = osp.join(work_dir, name)
    cfg.launcher = 'none'
    if batch is not None:
        cfg.train_dataloader.batch_size = batch
    if consistency is not None:
        weight, average_over = consistency
        cfg.model.consistency_weight = weight
        cfg.model.consistency.average_over = average_over
    per_iter = seconds_per_iteration(cfg)
    iters = max(10, int(budget / per_iter))
    warmup = max(1, iters // 10)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0,
             end=warmup),
        dict(type='CosineAnnealingLR', T_max=iters - warmup, by_epoch=False,
             begin=warmup, end=iters)]
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=iters)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=20)
    cfg.log_processor = dict(by_epoch=False)
    cfg.custom_hooks = [dict(
        type='FeatureProbeHook', train_dataloader=cfg.probe_dataloaders.train,
        val_dataloader=cfg.probe_dataloaders.val,
        interval_seconds=probe_every, time_budget=1.5 * budget, linear=True)]
    return cfg, per_iter, iters


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--budget', type=float, default=180,
                        help='training seconds per run (default: 180)')
    parser.add_argument('--probe-every', type=float, default=None,
                        help='seconds between probes (default: budget/8)')
    parser.add_argument('--out', default='work_dirs/bench_emae_vs_mae')
    parser.add_argument('--emae-batch', type=int, default=None,
                        help='EMAE images per iteration (default: MAE batch '
                        'size / K, equal MAE tasks per iteration)')
    parser.add_argument('--lambdas', type=float, nargs='+', default=None,
                        help="EMAE consistency weights, one run each "
                        "(default: the config's)")
    parser.add_argument('--consistency-average', default='shared',
                        choices=['shared', 'all'],
                        help='normalisation the --lambdas are given in '
                        '(default: shared)')
    parser.add_argument('--mae-batch', type=int, default=64)
    parser.add_argument('--methods', nargs='+', default=['mae', 'emae'],
                        choices=['mae', 'emae'])
    parser.add_argument('--data-root', default='data/fashion-mnist')
    parser.add_argument('--num-unlabelled', type=int, default=60000)
    parser.add_argument('--train-per-class', type=int, default=200)
    parser.add_argument('--val-per-class', type=int, default=1000)
    return parser.parse_args(argv)


def run_plan(args):
    """``(run name, consistency or None)`` per run, MAE first."""
    plan = [('mae', None)] if 'mae' in args.methods else []
    if 'emae' in args.methods:
        if args.lambdas is None:
            plan.append(('emae', None))
        plan += [(f'emae_lambda{w:g}', (w, args.consistency_average))
                 for w in args.lambdas or ()]
    return plan


def train_run(args, name, consistency, probe_every):
    """Train one run at the budget; its throughput and proxy curve."""
    from mmeff.apis.train import build_runner
    from mmeff.engine.config import load_config
    batch = args.mae_batch
    if name.startswith('emae'):
        parts = load_config(CONFIGS['emae']).model.backbone.num_parts
        batch = args.emae_batch or args.mae_batch // parts
    cfg, per_iter, iters = configure(name, args.budget, args.out,
                                     args.data_root, probe_every, batch,
                                     consistency)
    runner = build_runner(cfg)
    runner.train()
    hook = next(h for h in runner.hooks if type(h).__name__ == 'FeatureProbeHook')
    model = runner.model
    parts = getattr(model, 'num_parts', 1)
    hidden_per_image = parts * round(model.backbone.num_patches *
                                     model.backbone.mask_ratio)
    seconds = hook.train_seconds
    return dict(
        consistency=None if consistency is None else dict(
            weight=consistency[0], average_over=consistency[1]),
        calibrated_seconds_per_iter=round(per_iter, 4),
        iterations=runner.iter, batch_size=cfg.train_dataloader.batch_size,
        train_seconds=round(seconds, 1),
        images_per_second=round(hook.images_seen / seconds, 1),
        patches_reconstructed_per_second=round(
            hook.images_seen * hidden_per_image / seconds, 1),
        final_knn_top1=hook.curve[-1]['knn_top1'],
        final_linear_top1=hook.curve[-1]['linear_top1'],
        curve=hook.curve)


def summarise(results, budget):
    """Per EMAE run: its final proxies, and when it reached MAE's."""
    from mmeff.apis.benchmarking import time_to_reach
    mae = results['mae']
    summary = dict(budget_seconds=budget, mae=dict(
        final_knn_top1=mae['final_knn_top1'],
        final_linear_top1=mae['final_linear_top1']))
    for name, run in results.items():
        if name == 'mae':
            continue
        row = dict(final_knn_top1=run['final_knn_top1'],
                   final_linear_top1=run['final_linear_top1'],
                   images_per_second_ratio=round(
                       run['images_per_second'] / mae['images_per_second'], 3))
        for key in ('knn_top1', 'linear_top1'):
            reach = time_to_reach(run['curve'], mae[f'final_{key}'], key)
            row[f'time_to_mae_final_{key}_ratio'] = (
                None if reach is None else round(reach / mae['train_seconds'], 3))
        summary[name] = row
    return summary


def main(argv=None):
    args = parse_args(argv)
    from mmpretrain.utils import register_all_modules

    import mmeff  # noqa: F401
    from mmeff.apis.benchmarking import plot_proxy_curves, print_report
    from mmeff.data import prepare_fashion_mnist
    register_all_modules()
    prepare_fashion_mnist(args.data_root, args.train_per_class,
                          args.val_per_class, num_unlabelled=args.num_unlabelled)
    os.makedirs(args.out, exist_ok=True)
    probe_every = args.probe_every or args.budget / 8
    results = {name: train_run(args, name, consistency, probe_every)
               for name, consistency in run_plan(args)}
    if 'mae' not in results or len(results) < 2:
        print_report(dict(runs=results))
        return 0
    plot_proxy_curves({k: v['curve'] for k, v in results.items()},
                      osp.join(args.out, 'emae_vs_mae.png'),
                      'EMAE vs MAE at equal wall time (bundled data)',
                      labels={k: k.upper() for k in results})
    report = dict(summary=summarise(results, args.budget), runs=results)
    print_report(report, osp.join(args.out, 'emae_vs_mae.json'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
