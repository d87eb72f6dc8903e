#!/usr/bin/env python
"""MAE in a day, end to end on the bundled data (CPU): what each piece buys.

Four runs of the same tiny ViT, each from its plain config in
configs/dailymae/ (dailymae_vit-tiny-p4_1xb64-10e_fashion-mnist[_<algorithm>-<loader>-
<curriculum>].py; DailyMAE, Wu et al., 2024; EMAE, Li et al., 2023; EfficientTrain++,
Wang et al., 2024):

  stock                 (a) MMPretrain's MAE: its torch loader, fixed size
  essl                  (b) + ESSL storage and crop decode
  essl_curriculum       (c) + the palindrome curriculum (--curriculum
                            efficienttrain: EfficientTrain++ instead)
  emae_essl_curriculum  (d) EMAE instead of MAE, + ESSL + curriculum

All runs take the same number of optimizer steps with the same MAE tasks per
step: MAE runs E epochs of 64 images, EMAE E/K epochs of 16 images x K=4
parts (an EMAE epoch encodes every patch once, an MAE epoch a quarter), up
to the last partial batch of an epoch (the stock loader keeps it, ESSL drops
it).
EfficientTrain++ gets the config's compute budget (E/1.5 full-resolution
epochs, stretched). Each run is its own subprocess. Quality proxy: held-out
weighted-kNN top-1 of frozen features (FeatureProbeHook) at evenly spaced
steps, against training wall time (probes excluded). Per step: time waiting
on the loader (MMEngine's data_time without probe pauses) and the whole step.

Prints (and writes to --out) JSON with, as ratios to (a): data time per step,
step time, total training time, and the training time to reach (a)'s final
proxy (null with reached_target=false when a run never gets there); draws
the four proxy-vs-time curves to --png.

  python tools/benchmarks/end_to_end.py --epochs 20
  python tools/benchmarks/end_to_end.py --budget 120 \
      --curriculum efficienttrain
  python tools/benchmarks/end_to_end.py --smoke        # a few steps each
"""
import argparse
import json
import math
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/dailymae/dailymae_vit-tiny-p4_1xb64-10e_fashion-mnist.py'
VARIANTS = ('stock', 'essl', 'essl_curriculum', 'emae_essl_curriculum')
BASELINE = 'stock'
LABELS = dict(stock='(a) stock MAE', essl='(b) + ESSL',
              essl_curriculum='(c) + ESSL + {}',
              emae_essl_curriculum='(d) EMAE + ESSL + {}')
WARMUP = 0.1  # of the steps, as the config's 1 of 10 epochs
SMOKE = dict(epochs=4, train_per_class=10, val_per_class=5, probes=2)


def config_path(flags):
    """The config in configs/dailymae/ of a variant's ``toggles``."""
    combination = '{}-{}-{}'.format(
        flags['algorithm'], 'essl' if flags['essl'] else 'stock',
        flags['curriculum'] or 'none')
    if combination == 'emae-essl-palindrome':
        return CONFIG
    return CONFIG[:-len('.py')] + f'_{combination}.py'


def toggles(variant, curriculum):
    """The choices (loader, algorithm, curriculum) of a variant."""
    essl = variant != 'stock'
    algorithm = 'emae' if variant.startswith('emae') else 'mae'
    return dict(essl=essl, algorithm=algorithm,
                curriculum=curriculum if 'curriculum' in variant else None)


def variant_epochs(mae_epochs, algorithm, num_parts):
    """Epochs with the same steps (and MAE tasks) as ``mae_epochs`` of MAE."""
    if algorithm == 'emae':
        return max(1, round(mae_epochs / num_parts))
    return mae_epochs


def _ratio(value, base):
    if value is None or not base:
        return None
    return round(value / base, 3)


def summarize(runs, baseline=BASELINE):
    """Ratios of every run to ``baseline`` from their recorded curves.

    Each run needs ``data_seconds_per_step``, ``step_seconds_per_step``,
    ``train_seconds`` and ``curve`` (FeatureProbeHook points). The target is
    the baseline's final proxy; time to target is the training time of a
    run's first point at or above it, and its ratio is to the baseline's
    own time to target (normally its total).
    """
    from mmeff.apis.benchmarking import time_to_reach
    base = runs[baseline]
    target = base['curve'][-1]['knn_top1']
    base_reach = time_to_reach(base['curve'], target)
    table = {}
    for name, run in runs.items():
        reach = time_to_reach(run['curve'], target)
        table[name] = dict(
            data_time_ratio=_ratio(run['data_seconds_per_step'],
                                   base['data_seconds_per_step']),
            step_time_ratio=_ratio(run['step_seconds_per_step'],
                                   base['step_seconds_per_step']),
            wall_time_ratio=_ratio(run['train_seconds'],
                                   base['train_seconds']),
            time_to_target=reach,
            time_to_target_ratio=_ratio(reach, base_reach),
            reached_target=reach is not None,
            final_knn_top1=run['curve'][-1]['knn_top1'])
    return dict(baseline=baseline, target_knn_top1=target,
                vs_baseline=table)


# The worker: one variant, in its own process ------------------------------

def _count_images(folder):
    return sum(len(files) for _, _, files in os.walk(folder))


def _step_timer_hooks(times):
    """Two hooks timing each iteration from the end of the previous one.

    The LOWEST hook marks the end of an iteration's hooks (probes included)
    and, before the next step, how long the loader kept the loop waiting;
    the HIGHEST after-iteration hook marks the end of the step itself.
    """
    from mmengine.hooks import Hook

    class _Edges(Hook):

        def before_train_epoch(self, runner):
            times['t0'] = time.perf_counter()

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            times['data'].append(time.perf_counter() - times['t0'])

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            times['t0'] = time.perf_counter()

    class _StepDone(Hook):

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            times['step'].append(time.perf_counter() - times['t0'])

    return [(_Edges(), 'LOWEST'), (_StepDone(), 'HIGHEST')]


def configure(spec):
    """The resolved config of one variant, sized to ``spec``."""
    from mmeff.engine.config import load_config
    from mmeff.engine.hooks import EfficientTrainHook
    cfg = load_config(osp.join(REPO, config_path(spec['toggles'])))
    root = spec['data_root']
    nominal_epochs = cfg.max_epochs  # the schedule a curriculum's budget is of
    if cfg.train_dataloader.get('type') == 'ESSLLoader':
        cfg.train_dataloader.path = osp.join(root, 'train.beton')
    else:
        cfg.train_dataloader.dataset.data_root = root
    for split in ('train', 'val'):
        cfg.probe_dataloaders[split].dataset.data_root = root
    cfg.work_dir = spec['work_dir']
    cfg.launcher = 'none'
    cfg.randomness = dict(seed=spec['seed'], diff_rank_seed=True)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10**6)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10)

    epochs = spec['epochs']
    batch = cfg.train_dataloader.batch_size
    images = _count_images(osp.join(root, 'train'))
    essl = cfg.train_dataloader.get('type') == 'ESSLLoader'
    per_epoch = images // batch if essl else math.ceil(images / batch)
    curriculum = [h for h in cfg.custom_hooks
                  if h['type'] == 'EfficientTrainHook']
    if curriculum:  # it owns epochs and LR: scale its budget with the run
        hook = curriculum[0]
        hook['budget_epochs'] = hook['budget_epochs'] * epochs / nominal_epochs
        for lr in cfg.param_scheduler:  # EfficientTrainLR: the same plan
            lr['budget_epochs'] = hook['budget_epochs']
        plan = EfficientTrainHook(**{k: v for k, v in hook.items()
                                     if k not in ('type', '_scope_')})
        patch = cfg.model.backbone.patch_size
        epochs = plan.build_schedule(patch).total_epochs
    else:
        total = epochs * per_epoch
        # MMEngine's LinearLR needs 2+ steps to reach the base LR.
        warmup = max(2, round(WARMUP * total))
        cfg.param_scheduler = [
            dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0,
                 end=warmup),
            dict(type='CosineAnnealingLR', by_epoch=False, begin=warmup,
                 end=max(total, warmup + 1))]
    cfg.train_cfg.max_epochs = epochs
    cfg.custom_hooks.append(dict(
        type='FeatureProbeHook', train_dataloader=cfg.probe_dataloaders.train,
        val_dataloader=cfg.probe_dataloaders.val,
        interval_iters=max(1, epochs * per_epoch // spec['probes']),
        time_budget=spec.get('time_budget')))
    return cfg


def run_variant(spec):
    """Train one variant; write its measurements to ``spec['result']``."""
    from mmpretrain.utils import register_all_modules

    import mmeff  # noqa: F401
    from mmeff.apis.benchmarking import median, sizes_per_epoch, write_report
    from mmeff.apis.train import build_runner
    register_all_modules()
    if spec.get('threads'):
        import torch
        torch.set_num_threads(spec['threads'])

    cfg = configure(spec)
    runner = build_runner(cfg)
    times = dict(data=[], step=[], t0=time.perf_counter())
    for hook, priority in _step_timer_hooks(times):
        runner.register_hook(hook, priority=priority)
    runner.train()
    probe = next(h for h in runner.hooks
                 if type(h).__name__ == 'FeatureProbeHook')
    model = runner.model
    steps = len(times['step'])
    result = dict(
        variant=spec['variant'], toggles=spec['toggles'],
        epochs=runner.max_epochs, iterations=runner.iter,
        batch_size=runner.train_dataloader.batch_size,
        mae_tasks_per_step=runner.train_dataloader.batch_size * getattr(
            model, 'num_parts', 1),
        sizes_per_epoch=sizes_per_epoch(runner),
        data_seconds_per_step=round(sum(times['data']) / steps, 5),
        data_seconds_per_step_median=round(median(times['data']), 5),
        step_seconds_per_step=round(sum(times['step']) / steps, 5),
        train_seconds=round(probe.train_seconds, 2),
        final_knn_top1=probe.curve[-1]['knn_top1'],
        curve=probe.curve)
    write_report(result, spec['result'], indent=1)
    return 0


# The driver -----------------------------------------------------------------

def _prepare_data(root, train_per_class, val_per_class):
    from mmeff.apis.quickstart import write_storage
    from mmeff.data import prepare_fashion_mnist
    meta = prepare_fashion_mnist(root, train_per_class, val_per_class)
    write_storage(osp.join(root, 'train'), osp.join(root, 'train.beton'),
                  osp.join(root, 'meta.json'))
    return meta


def _epochs_for_budget(budget, data_root, num_parts):
    """MAE epochs of (a) that fill ``budget`` seconds (a multiple of K)."""
    from mmeff.apis.benchmarking import seconds_per_iteration
    from mmeff.engine.config import load_config
    cfg = load_config(osp.join(REPO, config_path(toggles(BASELINE, None))))
    cfg.train_dataloader.dataset.data_root = data_root
    per_iter = seconds_per_iteration(cfg)
    images = _count_images(osp.join(data_root, 'train'))
    per_epoch = math.ceil(images / cfg.train_dataloader.batch_size)
    epochs = budget / (per_iter * per_epoch)
    return max(num_parts, num_parts * round(epochs / num_parts)), per_iter


def _launch(spec, log_path):
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    from mmeff.apis.benchmarking import timed
    with open(log_path, 'w') as log:
        code, seconds = timed(
            subprocess.call,
            [sys.executable, osp.abspath(__file__), '--run-variant',
             json.dumps(spec)], cwd=REPO, env=env, stdout=log,
            stderr=subprocess.STDOUT)
    if code != 0:
        with open(log_path) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f'{spec["variant"]} failed ({code}); {log_path}:\n'
                           f'{tail}')
    with open(spec['result']) as f:
        result = json.load(f)
    result['process_seconds'] = round(seconds, 1)
    return result


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    length = parser.add_mutually_exclusive_group()
    length.add_argument('--epochs', type=int, default=None,
                        help='MAE epochs E (EMAE runs E/K); default 20')
    length.add_argument('--budget', type=float, default=None,
                        help="seconds: E is set so that (a) takes about this")
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS),
                        choices=VARIANTS)
    parser.add_argument('--curriculum', default='palindrome',
                        choices=['palindrome', 'efficienttrain'])
    parser.add_argument('--probes', type=int, default=8,
                        help='proxy points per run (plus the final one)')
    parser.add_argument('--out', default='work_dirs/bench_end_to_end/'
                        'end_to_end.json', help='JSON report path')
    parser.add_argument('--png', default=None,
                        help='curves PNG (default: next to --out)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=None,
                        help="torch threads per run (default: torch's); 1 "
                        'avoids OpenMP stalls on a busy machine')
    parser.add_argument('--data-root', default=None,
                        help='default data/fashion-mnist-mini (smoke: a '
                        'small copy next to --out)')
    parser.add_argument('--train-per-class', type=int, default=None)
    parser.add_argument('--val-per-class', type=int, default=None)
    parser.add_argument('--smoke', action='store_true',
                        help='tiny data, a few steps per run')
    parser.add_argument('--run-variant', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.run_variant:
        return run_variant(json.loads(args.run_variant))
    from mmpretrain.utils import register_all_modules

    import mmeff  # noqa: F401
    register_all_modules()
    if args.threads:  # the budget calibration runs here
        import torch
        torch.set_num_threads(args.threads)
    if BASELINE not in args.variants:
        args.variants.insert(0, BASELINE)  # every ratio is to (a)
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    smoke = SMOKE if args.smoke else {}
    data_root = args.data_root or (osp.join(out_dir, 'smoke_data') if smoke
                                   else 'data/fashion-mnist-mini')
    data_root = osp.abspath(osp.join(REPO, data_root))
    meta = _prepare_data(
        data_root, args.train_per_class or smoke.get('train_per_class', 200),
        args.val_per_class or smoke.get('val_per_class', 100))
    probes = smoke.get('probes', args.probes)

    from mmeff.engine.config import load_config
    num_parts = load_config(osp.join(REPO, CONFIG)).emae_num_parts
    per_iter = None
    if args.budget is not None:
        epochs, per_iter = _epochs_for_budget(args.budget, data_root,
                                              num_parts)
    else:
        epochs = args.epochs or smoke.get('epochs', 20)

    runs = {}
    for variant in args.variants:
        flags = toggles(variant, args.curriculum)
        work_dir = osp.join(out_dir, variant)
        os.makedirs(work_dir, exist_ok=True)
        spec = dict(
            variant=variant, toggles=flags, data_root=data_root,
            work_dir=work_dir, seed=args.seed, probes=probes,
            threads=args.threads,
            epochs=variant_epochs(epochs, flags['algorithm'], num_parts),
            time_budget=3 * args.budget if args.budget else None,
            result=osp.join(work_dir, 'result.json'))
        print(f'[end_to_end] {variant}: {flags}, {spec["epochs"]} epochs',
              file=sys.stderr, flush=True)
        runs[variant] = _launch(spec, osp.join(work_dir, 'train.log'))

    from mmeff.apis.benchmarking import plot_proxy_curves, print_report
    summary = summarize(runs)
    png = args.png or osp.splitext(args.out)[0] + '.png'
    plot_proxy_curves({k: v['curve'] for k, v in runs.items()}, png,
                      'MAE in a day: proxy vs training time (bundled data)',
                      labels={k: v.format(args.curriculum)
                              for k, v in LABELS.items()},
                      target=summary['target_knn_top1'])
    report = dict(
        config=CONFIG, device='cpu', seed=args.seed, threads=args.threads,
        curriculum=args.curriculum, smoke=bool(smoke),
        schedule=dict(mae_epochs=epochs,
                      emae_epochs=variant_epochs(epochs, 'emae', num_parts),
                      budget_seconds=args.budget,
                      calibrated_seconds_per_iter=per_iter),
        data=dict(root=data_root, num_train=meta['train_per_class'] * len(
            meta['classes']), num_val=meta['val_per_class'] * len(
                meta['classes'])),
        summary=summary, png=png, runs=runs)
    print_report(report, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
