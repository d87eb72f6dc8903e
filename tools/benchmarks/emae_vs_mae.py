#!/usr/bin/env python
"""EMAE vs MAE at equal wall time on the bundled data (CPU).

Same tiny ViT (configs/quickstart), same data, same training budget in
seconds. Each run first measures its own seconds per iteration, then sets an
iteration-based cosine schedule that ends at the budget, so both finish a
full schedule. By default EMAE's batch is MAE's divided by K, so both train
the same number of MAE tasks (images x parts) per iteration at about the
same cost per iteration; ``--emae-batch`` changes that. A FeatureProbeHook
records held-out kNN top-1 against training wall time. Prints JSON:
images/s, patches reconstructed/s, final proxy, and the time EMAE needs to
reach MAE's final proxy as a fraction of MAE's time.

  python tools/benchmarks/emae_vs_mae.py --budget 180 --out work_dirs/bench_emae
"""
import argparse
import os
import os.path as osp
import sys

CONFIGS = dict(
    mae='configs/quickstart/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist.py',
    emae='configs/emae/emae_vit-tiny-p4_1xb16-coslr-10e_fashion-mnist.py')


def configure(name, budget, work_dir, data_root, probe_every, batch=None,
              consistency_weight=None):
    from mmeff.apis.benchmarking import seconds_per_iteration
    from mmeff.engine.config import load_config
    cfg = load_config(CONFIGS[name])
    for key in ('train_dataloader', 'probe_dataloaders.train',
                'probe_dataloaders.val'):
        cfg.merge_from_dict({f'{key}.dataset.data_root': data_root})
    cfg.work_dir = osp.join(work_dir, name)
    cfg.launcher = 'none'
    if batch is not None:
        cfg.train_dataloader.batch_size = batch
    if consistency_weight is not None and name == 'emae':
        cfg.model.consistency_weight = consistency_weight
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
        interval_seconds=probe_every, time_budget=1.5 * budget)]
    return cfg, per_iter, iters


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--budget', type=float, default=180,
                        help='training seconds per method')
    parser.add_argument('--probe-every', type=float, default=None,
                        help='seconds between probes (default budget/8)')
    parser.add_argument('--out', default='work_dirs/bench_emae_vs_mae')
    parser.add_argument('--emae-batch', type=int, default=None,
                        help='EMAE images per iteration (default: MAE batch '
                        'size / K, equal MAE tasks per iteration)')
    parser.add_argument('--consistency-weight', type=float, default=None,
                        help="override EMAE's lambda")
    parser.add_argument('--mae-batch', type=int, default=64)
    parser.add_argument('--methods', nargs='+', default=['mae', 'emae'],
                        choices=['mae', 'emae'])
    parser.add_argument('--data-root', default='data/fashion-mnist-mini')
    parser.add_argument('--train-per-class', type=int, default=200)
    parser.add_argument('--val-per-class', type=int, default=100)
    args = parser.parse_args(argv)

    from mmpretrain.utils import register_all_modules

    import mmeff  # noqa: F401
    from mmeff.apis.benchmarking import plot_proxy_curves, print_report, time_to_reach
    from mmeff.apis.train import build_runner
    from mmeff.data import prepare_fashion_mnist
    register_all_modules()
    prepare_fashion_mnist(args.data_root, args.train_per_class,
                          args.val_per_class)
    os.makedirs(args.out, exist_ok=True)
    probe_every = args.probe_every or args.budget / 8

    results = {}
    for name in args.methods:
        batch = args.mae_batch
        if name == 'emae':
            from mmeff.engine.config import load_config
            parts = load_config(CONFIGS['emae']).model.backbone.num_parts
            batch = args.emae_batch or args.mae_batch // parts
        cfg, per_iter, iters = configure(name, args.budget, args.out,
                                         args.data_root, probe_every, batch,
                                         args.consistency_weight)
        runner = build_runner(cfg)
        runner.train()
        hook = next(h for h in runner.hooks if type(h).__name__ == 'FeatureProbeHook')
        model = runner.model
        batch = cfg.train_dataloader.batch_size
        num_patches = model.backbone.num_patches
        parts = getattr(model, 'num_parts', 1)
        hidden_per_image = parts * round(num_patches * model.backbone.mask_ratio)
        seconds = hook.train_seconds
        results[name] = dict(
            calibrated_seconds_per_iter=round(per_iter, 4),
            iterations=runner.iter, batch_size=batch,
            train_seconds=round(seconds, 1),
            images_per_second=round(hook.images_seen / seconds, 1),
            patches_reconstructed_per_second=round(
                hook.images_seen * hidden_per_image / seconds, 1),
            final_knn_top1=hook.curve[-1]['knn_top1'],
            curve=hook.curve)

    if set(results) != {'mae', 'emae'}:
        print_report(dict(runs=results))
        return 0
    mae, emae = results['mae'], results['emae']
    reach = time_to_reach(emae['curve'], mae['final_knn_top1'])
    summary = dict(
        budget_seconds=args.budget,
        emae_time_to_mae_final_proxy=reach,
        emae_time_to_mae_final_proxy_ratio=(
            round(reach / mae['train_seconds'], 3) if reach is not None else None),
        images_per_second_ratio=round(
            emae['images_per_second'] / mae['images_per_second'], 3),
        patches_reconstructed_per_second_ratio=round(
            emae['patches_reconstructed_per_second'] /
            mae['patches_reconstructed_per_second'], 3),
        final_knn_top1=dict(mae=mae['final_knn_top1'],
                            emae=emae['final_knn_top1']))
    plot_proxy_curves({k: v['curve'] for k, v in results.items()},
                      osp.join(args.out, 'emae_vs_mae.png'),
                      'EMAE vs MAE at equal wall time (bundled data)',
                      labels={k: k.upper() for k in results})
    report = dict(summary=summary, runs=results)
    print_report(report, osp.join(args.out, 'emae_vs_mae.json'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
