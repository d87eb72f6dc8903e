#!/usr/bin/env python
"""Wall time, CPU time, FLOPs and quality of resolution curricula.

Runs the quickstart's tiny MAE (or EMAE) on the bundled data, CPU, in one
process:
  fixed      full resolution for E epochs (the baseline)
  fixed_s1   the baseline again with another seed (run-to-run noise)
  palindrome DailyMAE's 224->192->224 scaled to 32 px, same E epochs
  efficienttrain  EfficientTrain++ (Swin preset), a budget of E/1.5
             full-resolution epochs: the published claim is equal quality at
             about 1.5x less compute, so the saving is set by the budget and
             the test is whether the quality proxy holds.
The runs are interleaved: ``--rounds`` passes over ``--runs`` in order, so
every round holds one run of each and host load drifting over the
invocation hits them alike. Savings are ratios to ``fixed`` within a round,
reported as the median and range over rounds.

Per run: wall seconds and CPU seconds of the training (this process plus
its loader workers; with torch at one thread the CPU time is what the run
would take on a dedicated core, and it moves far less than the wall time
when other jobs share the host), split by stage: ``data`` (waiting for the
next batch), ``step`` (``model.train_step``; of it ``preprocess``, the data
preprocessor, and ``crop``, EfficientTrain++'s low-frequency crop),
``hooks`` (each hook's methods, by hook class) and ``other`` (the Runner's
set-up and loop), and the CPU time of one step at each size. FLOPs are
counted with torch's FlopCounterMode on one training step per resolution
and multiplied by the iterations run at it. The proxy is held-out
weighted-kNN top-1 on frozen features after training (timed apart, as
``probe``), in the first round only. ``--workers 0`` (the default) loads in
this process, so every stage's CPU time is this process's; the savings are
given for the CPU time with loading (one dedicated core) and without it
(``loading_overlapped``: loader workers on other cores keeping up).

  OMP_NUM_THREADS=1 python tools/benchmarks/curriculum_cost.py --epochs 4 \\
      --train-per-class 100 --runs fixed efficienttrain --rounds 3
"""
import argparse
import functools
import os.path as osp
import resource
import sys
import time
from collections import defaultdict

CONFIGS = dict(
    fixed='configs/quickstart/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist.py',
    fixed_s1='configs/quickstart/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist.py',
    palindrome='configs/curricula/mae_vit-tiny-p4_1xb64-palindrome-30e_fashion-mnist.py',
    efficienttrain=(
        'configs/curricula/mae_vit-tiny-p4_1xb64-efficienttrain-50e_fashion-mnist.py'))


def configure(name, args):
    from mmeff.engine.config import load_config
    cfg = load_config(CONFIGS[name])
    for key in ('train_dataloader', 'probe_dataloaders.train',
                'probe_dataloaders.val'):
        cfg.merge_from_dict({f'{key}.dataset.data_root': args.data_root})
    if args.workers is not None:
        cfg.train_dataloader.num_workers = args.workers
        cfg.train_dataloader.persistent_workers = args.workers > 0
    if args.algorithm == 'emae':
        cfg.model.update(type='EMAE', consistency_weight=0.1,
                         consistency=dict(type='SelfConsistencyLoss'))
        cfg.model.backbone.type = 'EMAEViT'
        cfg.model.backbone.num_parts = 4
    cfg.work_dir = osp.join(args.out, name)
    cfg.launcher = 'none'
    cfg.randomness = dict(seed=1 if name == 'fixed_s1' else 0,
                          diff_rank_seed=True)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000)
    epochs = args.epochs
    if name == 'efficienttrain':
        hook = next(h for h in cfg.custom_hooks
                    if h['type'] == 'EfficientTrainHook')
        hook['budget_epochs'] = epochs / 1.5
        if args.algorithm == 'emae':  # grids must split into K=4 parts
            hook['preset'], hook['stages'] = None, [(0.0, 16), (0.2, 24),
                                                    (0.6, 32)]
        for lr in cfg.param_scheduler:  # EfficientTrainLR: the same plan
            lr.update(budget_epochs=hook['budget_epochs'],
                      preset=hook['preset'], stages=hook.get('stages'))
        from mmeff.engine.hooks import EfficientTrainHook
        plan = EfficientTrainHook(**{k: v for k, v in hook.items()
                                     if k != 'type'}).build_schedule(4)
        epochs = plan.total_epochs
    else:
        warmup = max(1, epochs // 10)
        cfg.param_scheduler = [
            dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0,
                 end=warmup, convert_to_iter_based=True),
            dict(type='CosineAnnealingLR', T_max=epochs - warmup,
                 by_epoch=True, begin=warmup, end=epochs,
                 convert_to_iter_based=True)]
    cfg.train_cfg.max_epochs = epochs
    return cfg


class StageClock:
    """Wall and CPU seconds spent in wrapped callables, by key (a string, or
    a function giving it at each call)."""

    def __init__(self):
        self.wall = defaultdict(float)
        self.cpu = defaultdict(float)

    def wrap(self, key, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                name = key() if callable(key) else key
                self.wall[name] += time.perf_counter() - wall
                self.cpu[name] += time.process_time() - cpu
        return timed


def instrument(runner, clock):
    """Time the loader, the step and each hook of ``runner``'s training.

    Instance attributes shadow the methods (the loader gets a subclass, as
    ``for batch in loader`` looks ``__iter__`` up on the type), so the
    Runner, its loop and the hooks run unchanged.
    """
    from mmengine.hooks import Hook
    for hook in runner.hooks:
        name = type(hook).__name__
        for stage in Hook.stages:
            setattr(hook, stage, clock.wrap(f'hooks.{name}',
                                            getattr(hook, stage)))
        if hasattr(hook, 'crop'):  # EfficientTrainHook's batch crop
            hook.crop = clock.wrap('crop', hook.crop)
    model = runner.model
    model.train_step = clock.wrap('step', clock.wrap(
        lambda: f'epoch.{runner.epoch}', model.train_step))
    pre = model.data_preprocessor
    pre.forward = clock.wrap('preprocess', pre.forward)
    loader = runner.train_loop.dataloader
    base = type(loader)
    timed_next = clock.wrap('data', next)

    def timed_iter(self):
        batches = base.__iter__(self)
        while True:
            try:
                batch = timed_next(batches)
            except StopIteration:
                return
            yield batch

    loader.__class__ = type(f'Timed{base.__name__}', (base,),
                            {'__iter__': timed_iter})


def workers_cpu_seconds():
    """CPU seconds of this process's children, ended and still running."""
    import psutil
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    running = sum(sum(c.cpu_times()[:2]) for c in
                  psutil.Process().children(recursive=True))
    return ended.ru_utime + ended.ru_stime + running


def stage_split(clock, wall, cpu, workers_cpu):
    """Top-level stages that add up to the run: data, step, hooks, other."""
    hooks = [k for k in clock.wall if k.startswith('hooks.')]
    split = {}
    for kind, table, total in (('wall', clock.wall, wall),
                               ('cpu', clock.cpu, cpu)):
        top = dict(data=table['data'], step=table['step'],
                   hooks=sum(table[k] for k in hooks))
        top['other'] = total - sum(top.values())
        top.update(preprocess=table['preprocess'], crop=table['crop'])
        top.update({k: table[k] for k in hooks})
        split[kind] = {k: round(v, 2) for k, v in top.items()}
    split['cpu']['data_workers'] = round(workers_cpu, 2)
    return split


def step_by_size(clock, sizes, per_epoch):
    """CPU milliseconds of one ``train_step`` at each size of the run."""
    total = defaultdict(float)
    for epoch, size in enumerate(sizes):
        total[size] += clock.cpu[f'epoch.{epoch}']
    return {str(s): round(1000 * t / (per_epoch * sizes.count(s)), 1)
            for s, t in sorted(total.items())}


def train_once(name, args, probe):
    """One training run, timed by stage; with ``probe``, kNN and FLOPs."""
    from mmengine.runner import Runner

    from mmeff.apis.benchmarking import sizes_per_epoch, step_flops, timed
    from mmeff.apis.train import build_runner
    from mmeff.evaluation import extract_features, knn_top1
    cfg = configure(name, args)
    runner = build_runner(cfg)
    clock = StageClock()
    instrument(runner, clock)
    workers0 = workers_cpu_seconds()
    wall, cpu = time.perf_counter(), time.process_time()
    runner.train()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    workers = workers_cpu_seconds() - workers0
    sizes = sizes_per_epoch(runner)
    per_epoch = len(runner.train_dataloader)
    result = dict(epochs=len(sizes), sizes=sorted(set(sizes)),
                  iterations=per_epoch * len(sizes),
                  wall_seconds=round(wall, 1),
                  cpu_seconds=round(cpu + workers, 1),
                  stages=stage_split(clock, wall, cpu, workers),
                  step_cpu_ms_by_size=step_by_size(clock, sizes, per_epoch))
    if not probe:
        return result
    model = runner.model

    def knn_proxy():
        loaders = {k: Runner.build_dataloader(v)
                   for k, v in cfg.probe_dataloaders.items()}
        return knn_top1(*extract_features(model, loaders['train']),
                        *extract_features(model, loaders['val']))

    proxy, seconds = timed(knn_proxy)
    batch = cfg.train_dataloader.batch_size
    flops_at = {s: step_flops(model, s, batch) for s in set(sizes)}
    flops = sum(flops_at[s] * per_epoch for s in sizes)
    return dict(result, probe_seconds=round(seconds, 1),
                gflops_per_step_by_size={str(s): round(f / 1e9, 2)
                                         for s, f in sorted(flops_at.items())},
                tflops=round(flops / 1e12, 2), knn_top1=round(proxy, 2))


def busy(run):
    """CPU seconds of the training process outside loading: the run's time
    when loader workers on other cores keep up with the step."""
    cpu = run['stages']['cpu']
    return cpu['step'] + cpu['hooks'] + cpu['other']


def steps_over_fixed(base, rounds):
    """Each size's step (CPU time, FLOPs) as a fraction of the baseline's."""
    from mmeff.apis.benchmarking import spread
    full, = base[0]['step_cpu_ms_by_size']
    gflops = base[0]['gflops_per_step_by_size'][full]
    return {size: dict(
        cpu=spread([r['step_cpu_ms_by_size'][size] /
                    b['step_cpu_ms_by_size'][full]
                    for b, r in zip(base, rounds)]),
        flops=round(g / gflops, 3))
        for size, g in rounds[0]['gflops_per_step_by_size'].items()}


def compare(runs):
    """Per-round savings against ``fixed`` (same round), medians and ranges."""
    from mmeff.apis.benchmarking import spread
    base = runs['fixed']
    summary = {}
    for name, rounds in runs.items():
        pairs = list(zip(base, rounds))
        flops = base[0]['tflops'] / rounds[0]['tflops']
        wall = [b['wall_seconds'] / r['wall_seconds'] for b, r in pairs]
        cpu = [b['cpu_seconds'] / r['cpu_seconds'] for b, r in pairs]
        overlapped = [busy(b) / busy(r) for b, r in pairs]
        stages = {}
        for stage in ('data', 'step', 'hooks', 'other'):
            stages[stage] = spread(
                [r['stages']['cpu'][stage] / b['cpu_seconds']
                 for b, r in pairs])
        summary[name] = dict(
            flops_saving=round(flops, 3),
            wall_time_saving=spread(wall), cpu_time_saving=spread(cpu),
            wall_saving_over_flops_saving=spread([w / flops for w in wall]),
            cpu_saving_over_flops_saving=spread([c / flops for c in cpu]),
            cpu_saving_loading_overlapped=spread(overlapped),
            overlapped_saving_over_flops_saving=spread(
                [o / flops for o in overlapped]),
            cpu_by_stage_over_fixed_total=stages,
            step_by_size_over_fixed=steps_over_fixed(base, rounds),
            knn_delta=round(rounds[0]['knn_top1'] - base[0]['knn_top1'], 2))
    return summary


def make_report(args, runs):
    import torch
    report = dict(algorithm=args.algorithm, baseline_epochs=args.epochs,
                  train_per_class=args.train_per_class, rounds=args.rounds,
                  workers=args.workers, torch_threads=torch.get_num_threads(),
                  runs=dict(runs), vs_fixed=compare(runs))
    if runs.get('fixed_s1'):
        report['seed_noise_knn'] = round(abs(
            runs['fixed_s1'][0]['knn_top1'] - runs['fixed'][0]['knn_top1']), 2)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--epochs', type=int, default=12,
                        help='baseline epochs E at full resolution')
    parser.add_argument('--algorithm', choices=['mae', 'emae'], default='mae')
    parser.add_argument('--runs', nargs='+', default=list(CONFIGS),
                        choices=list(CONFIGS))
    parser.add_argument('--rounds', type=int, default=1,
                        help='passes over --runs, interleaved')
    parser.add_argument('--workers', type=int, default=0,
                        help='train loader workers (default 0: load in '
                        'this process)')
    parser.add_argument('--out', default='work_dirs/bench_curriculum')
    parser.add_argument('--json', help='also write the report here')
    parser.add_argument('--data-root', default='data/fashion-mnist-mini')
    parser.add_argument('--train-per-class', type=int, default=200,
                        help='training images per class in the bundled '
                        'subset (a folder of its own per value)')
    args = parser.parse_args(argv)
    if 'fixed' not in args.runs:
        parser.error("--runs must include 'fixed' (the baseline)")

    from mmpretrain.utils import register_all_modules

    import mmeff  # noqa: F401
    from mmeff.apis.benchmarking import print_report, write_report
    from mmeff.data import prepare_fashion_mnist
    register_all_modules()
    prepare_fashion_mnist(args.data_root,
                          train_per_class=args.train_per_class)

    out = args.json or osp.join(args.out, 'curriculum_cost.json')
    runs = defaultdict(list)
    for _ in range(args.rounds):
        for name in args.runs:
            runs[name].append(train_once(name, args, probe=not runs[name]))
            report = make_report(args, runs)
            write_report(report, out)  # kept if the invocation is cut short
    print_report(report, out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
