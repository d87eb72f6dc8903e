#!/usr/bin/env python
"""How much of a training step is fixed cost, and how much follows the tokens.

Trains each config through mmeff's train path (``tools/train.py``'s config
loading, flags and Runner) on batches held in memory: one pre-collated batch
per size, served by a DataLoader that only hands it out again, so the
loader is out of the picture while every hook, the data preprocessor, the
optimizer wrapper and the logger run as in training. Curriculum and probe
hooks are removed (the size is set by the batch). One run per config; its
epoch is ``rounds`` passes over the sizes, the order alternating each pass
(32, 24, 16, 16, 24, 32, ...), each block ``warmup`` untimed then ``iters``
timed steps. Per size: the median over rounds of the seconds per step,
FLOPs per step (torch's FlopCounterMode), achieved FLOP/s and, on a GPU with
a known peak, its fraction. A least-squares fit of step time on tokens per
step (images x patches) gives the fixed cost and its fraction of the
full-size step. Prints JSON (and writes ``--out``).

  python tools/benchmarks/step_cost.py                      # CPU defaults
  python tools/benchmarks/step_cost.py --compile
  python tools/benchmarks/step_cost.py --sizes 224 160 96 --bf16  # GPU
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import torch
from mmengine.hooks import Hook

CPU_CONFIGS = dict(
    mae='configs/quickstart/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist.py',
    emae='configs/emae/emae_vit-tiny-p4_1xb16-coslr-10e_fashion-mnist.py')
GPU_CONFIGS = dict(
    mae='configs/curricula/mae_vit-base-p16_8xb512-amp-palindrome-800e_in1k.py',
    emae='configs/emae_vit-b_800e.py')
# Dense bf16 tensor-core peaks (FLOP/s), by device-name fragment.
PEAK_FLOPS = {'H200': 989e12, 'H100': 989e12, 'A100': 312e12}
SIZE_HOOKS = ('ProgressiveResolutionHook', 'EfficientTrainHook',
              'FeatureProbeHook')


def _only_item(items):
    return items[0]


def in_memory_loader(batches):
    """A DataLoader handing out pre-collated ``batches`` as they are.

    One batch per "sample" (MMEngine's sampler-seed hook needs a batch
    sampler, so not ``batch_size=None``).
    """
    from torch.utils.data import DataLoader
    return DataLoader(batches, batch_size=1, shuffle=False,
                      collate_fn=_only_item)


def random_batch(batch, size, seed=0):
    """A collated batch of uint8 images, as ``default_collate`` gives it."""
    from mmpretrain.structures import DataSample
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (batch, 3, size, size), generator=gen,
                           dtype=torch.uint8)
    return dict(inputs=images, data_samples=[DataSample()
                                             for _ in range(batch)])


def block_order(sizes, rounds):
    """Sizes per block, every other pass reversed (alternating runs)."""
    order = []
    for r in range(rounds):
        order += list(sizes) if r % 2 == 0 else list(reversed(sizes))
    return order


class BlockTimer(Hook):
    """A LOWEST-priority hook: seconds per step of each block's timed part.

    Synchronises the device only at block boundaries, so queued GPU work
    runs ahead as in training.
    """

    priority = 'LOWEST'

    def __init__(self, warmup, iters):
        self.warmup, self.iters = warmup, iters
        self.seconds = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        step = batch_idx % (self.warmup + self.iters) + 1
        if step not in (self.warmup, self.warmup + self.iters):
            return
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        if step == self.warmup:
            self._start = time.perf_counter()
        else:
            self.seconds.append(
                (time.perf_counter() - self._start) / self.iters)


def configure(config, args, work_dir):
    """The config as ``tools/train.py`` would run it, minus size hooks."""
    from mmeff.apis.train import merge_train_args, parse_train_args
    from mmeff.engine.config import load_config
    cfg = load_config(config, args.cfg_options)
    flags = [config, '--work-dir', work_dir] + (['--amp'] if args.amp else [])
    cfg = merge_train_args(cfg, parse_train_args(flags))
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if h['type'] not in SIZE_HOOKS]
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=10**9)
    cfg.default_hooks.checkpoint = None
    cfg.log_level = 'WARNING'  # the logger hook still formats every line
    if args.bf16:
        cfg.optim_wrapper.type = 'BF16OptimWrapper'
        for key in ('loss_scale', 'dtype'):
            cfg.optim_wrapper.pop(key, None)
    if args.compile:
        cfg.compile = dict(dynamic=False)
        cfg.custom_hooks.append(dict(type='CompiledStepHook'))
    return cfg


def run_config(config, args, work_dir):
    """Seconds per step for each block of one training run, and FLOPs."""
    from mmeff.apis.benchmarking import step_flops
    from mmeff.apis.train import build_runner
    cfg = configure(config, args, work_dir)
    batch = args.batch or cfg.train_dataloader.batch_size
    batches = {s: random_batch(batch, s, seed=s) for s in args.sizes}
    order = block_order(args.sizes, args.rounds)
    runner = build_runner(cfg, loaders=())
    # The Runner builds its loader from a config in train(); a built
    # DataLoader in its place is used as it is.
    runner._train_dataloader = in_memory_loader(
        [batches[s] for s in order for _ in range(args.warmup + args.iters)])
    timer = BlockTimer(args.warmup, args.iters)
    runner.register_hook(timer, priority='LOWEST')
    runner.train()
    from mmeff.engine.utils import unwrap_model
    model = unwrap_model(runner.model)
    patch = model.backbone.patch_size
    flops = {s: step_flops(model, s, batch) for s in args.sizes}
    per_size = {s: [] for s in args.sizes}
    for size, seconds in zip(order, timer.seconds):
        per_size[size].append(seconds)
    return dict(config=config, batch=batch, patch_size=patch,
                per_size=per_size, flops=flops)


def fit_fixed_cost(tokens, seconds):
    """Least squares ``seconds = fixed + per_token * tokens``."""
    mean_t, mean_s = statistics.fmean(tokens), statistics.fmean(seconds)
    cov = sum((t - mean_t) * (s - mean_s) for t, s in zip(tokens, seconds))
    var = sum((t - mean_t)**2 for t in tokens)
    per_token = cov / var
    return mean_s - per_token * mean_t, per_token


def peak_flops():
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_FLOPS.items() if k in name), None)


def summarize(raw):
    """Medians, FLOP rates, the fixed-cost fit and ratios to the full size."""
    from mmeff.apis.benchmarking import median
    sizes = sorted(raw['per_size'], reverse=True)
    full, peak = sizes[0], peak_flops()
    rows, tokens, medians = {}, [], []
    for s in sizes:
        med = median(raw['per_size'][s])
        tok = raw['batch'] * (s // raw['patch_size'])**2
        rate = raw['flops'][s] / med
        rows[s] = dict(
            tokens_per_step=tok, seconds_per_step=round(med, 5),
            runs=[round(x, 5) for x in raw['per_size'][s]],
            gflops_per_step=round(raw['flops'][s] / 1e9, 2),
            achieved_tflops=round(rate / 1e12, 4),
            peak_fraction=None if peak is None else round(rate / peak, 4))
        tokens.append(tok)
        medians.append(med)
    fixed, per_token = fit_fixed_cost(tokens, medians)
    base = rows[full]
    ratios = {s: dict(
        step_time=round(r['seconds_per_step'] / base['seconds_per_step'], 3),
        tokens=round(r['tokens_per_step'] / base['tokens_per_step'], 3),
        flops=round(r['gflops_per_step'] / base['gflops_per_step'], 3))
        for s, r in rows.items()}
    # Pair-wise ratios (one per round) show the spread behind the median.
    pairs = {s: [round(a / b, 3) for a, b in zip(raw['per_size'][s],
                                                   raw['per_size'][full])]
             for s in sizes[1:]}
    return dict(config=raw['config'], batch=raw['batch'], sizes=rows,
                fit=dict(fixed_seconds=round(fixed, 5),
                         per_token_microseconds=round(per_token * 1e6, 4),
                         fixed_fraction_of_full=round(
                             fixed / base['seconds_per_step'], 3)),
                ratios_to_full=ratios, per_round_ratios=pairs)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--configs', nargs='+', help='default: the tiny '
                        'MAE and EMAE on a CPU, the ViT-B ones on a GPU')
    parser.add_argument('--sizes', type=int, nargs='+')
    parser.add_argument('--batch', type=int, help="default: the config's")
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--amp', action='store_true',
                        help="tools/train.py's --amp (fp16, loss scaler)")
    parser.add_argument('--bf16', action='store_true',
                        help='bf16 autocast without a loss scaler')
    parser.add_argument('--compile', action='store_true',
                        help="the Runner's compile=dict(dynamic=False) "
                        'with CompiledStepHook')
    parser.add_argument('--cfg-options', nargs='+', default=None,
                        help='override settings, e.g. a.b=1')
    parser.add_argument('--threads', type=int,
                        help="torch's intra-op threads (default: torch's)")
    parser.add_argument('--work-dir', default='work_dirs/bench_step_cost')
    parser.add_argument('--out', help='also write the JSON here')
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available()
    args.configs = args.configs or list((GPU_CONFIGS if cuda
                                         else CPU_CONFIGS).values())
    args.sizes = args.sizes or ([224, 160, 96] if cuda else [32, 24, 16])
    if args.cfg_options:
        from mmengine.config import DictAction
        opts = argparse.ArgumentParser()
        opts.add_argument('--o', nargs='+', action=DictAction)
        args.cfg_options = opts.parse_args(['--o', *args.cfg_options]).o
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from mmpretrain.utils import register_all_modules

    import mmeff  # noqa: F401
    register_all_modules()
    results = []
    for i, config in enumerate(args.configs):
        work_dir = osp.join(args.work_dir, f'{i}_{osp.basename(config)[:-3]}')
        results.append(summarize(run_config(config, args, work_dir)))
    from mmeff.apis.benchmarking import print_report
    print_report(dict(
        compile=args.compile, amp='bf16' if args.bf16 else
        ('fp16' if args.amp else None), rounds=args.rounds,
        iters=args.iters, results=results), args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
