#!/usr/bin/env python
"""Peak memory and images/s of an EMP-SSL training step, n = 20 and 200,
with and without the memory bound (``patch_micro_batch``).

One full optimisation step (forward, -TCR + 200 * invariance, backward,
LARS-wrapped SGD step) on synthetic patch batches, each setting in a fresh
subprocess. Peak memory on CPU is the process's peak RSS above its RSS just
before the first step (model, optimizer state and inputs already allocated);
on CUDA it is ``torch.cuda.max_memory_allocated`` above the same point.
Data loading is not part of the measurement. On CPU the step times are also
measured in one process with the two settings alternating
(``interleaved_*``): on a shared machine that comparison is the reliable one.
Prints JSON.

  python tools/benchmarks/empssl_memory.py                 # CPU defaults
  python tools/benchmarks/empssl_memory.py --device cuda --images 100 --width 64
"""
import argparse
import json
import os
import resource
import subprocess
import sys


def build(args, num_patches, micro):
    """Model, optim wrapper (state allocated) and synthetic patch batches."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS
    from mmpretrain.utils import register_all_modules

    import mmeff  # noqa: F401

    # Type names resolve in the mmpretrain scope, as under a config's Runner.
    register_all_modules(init_default_scope=True)
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='EMPSSL', num_patches=num_patches, patch_micro_batch=micro,
        backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=args.width,
                      stem_channels=args.width),
        neck=dict(type='EMPSSLProjector', in_channels=8 * args.width,
                  hid_channels=args.hidden, out_channels=args.out_dim)))
    model.init_weights()
    model.to(args.device).train()
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper', constructor='LARSExclusionOptimWrapperConstructor',
        optimizer=dict(type='LARSWrappedSGD', lr=0.3, momentum=0.9,
                       weight_decay=1e-4)))
    views = [torch.randn(args.images, 3, args.patch_size, args.patch_size,
                         device=args.device) for _ in range(num_patches)]
    # Optimizer state exists before the measured steps.
    for p in model.parameters():
        wrapper.optimizer.state[p]['momentum_buffer'] = torch.zeros_like(p)

    def step():
        losses = model.loss(views)
        wrapper.update_params(sum(v for k, v in losses.items()
                                  if k.startswith('loss')))
    return model, step


def interleaved_seconds(args, num_patches, bound):
    """Median step time without / with the bound, steps alternating so that
    other jobs on a shared CPU slow both settings alike."""
    from mmeff.apis.benchmarking import median, time_calls
    model, step = build(args, num_patches, None)
    times = {None: [], bound: []}
    for micro in (None, bound):  # warm-up both shapes
        model.patch_micro_batch = micro
        step()
    for _ in range(args.steps):
        for micro in (None, bound):
            model.patch_micro_batch = micro
            times[micro] += time_calls(step, 1)
    return {k: median(v) for k, v in times.items()}


def measure(args):
    import torch

    from mmeff.apis.benchmarking import median, time_calls
    micro = args.micro_batch if args.micro_batch > 0 else None
    model, step = build(args, args.patches, micro)
    cuda = args.device == 'cuda'
    sync = torch.cuda.synchronize if cuda else None
    if cuda:
        sync()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    else:
        with open('/proc/self/statm') as f:
            base = int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    try:
        # One warm-up step (kernel selection per shape), also measured for
        # memory; the median resists other jobs sharing the CPU.
        seconds = median(time_calls(step, args.steps, warmup=1, sync=sync))
    except torch.OutOfMemoryError:
        return dict(error='out of memory')
    peak = (torch.cuda.max_memory_allocated() if cuda else
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return dict(peak_mb=round((peak - base) / 2**20, 1),
                seconds_per_step=round(seconds, 3),
                images_per_second=round(args.images / seconds, 2),
                patches_per_second=round(args.images * args.patches / seconds, 1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--images', type=int, default=4,
                        help='images per batch (paper: 100)')
    parser.add_argument('--patch-size', type=int, default=32)
    parser.add_argument('--width', type=int, default=16,
                        help='ResNet-18 base channels (paper: 64)')
    parser.add_argument('--hidden', type=int, default=4096)
    parser.add_argument('--out-dim', type=int, default=1024)
    parser.add_argument('--patch-counts', type=int, nargs='+', default=[20, 200])
    parser.add_argument('--bound', type=int, default=10,
                        help='patch_micro_batch of the bounded runs')
    parser.add_argument('--steps', type=int, default=3,
                        help='timed steps after one warm-up (median reported)')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--out', default=None,
                        help='also write the JSON here (stdout carries logs)')
    # internal: one measurement in this process
    parser.add_argument('--patches', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--micro-batch', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.patches is not None:
        import torch
        torch.set_num_threads(args.threads)
        print(json.dumps(measure(args)))
        return 0

    rows = []
    for n in args.patch_counts:
        for micro in (0, args.bound):
            passed = list(argv if argv is not None else sys.argv[1:])
            if '--out' in passed:  # only the parent writes the file
                del passed[passed.index('--out'):passed.index('--out') + 2]
            cmd = [sys.executable, __file__, '--patches', str(n),
                   '--micro-batch', str(micro)] + passed
            out = subprocess.run(cmd, capture_output=True, text=True)
            lines = [line for line in out.stdout.splitlines()
                     if line.startswith('{')]
            row = json.loads(lines[-1]) if lines else dict(
                error=out.stderr.strip().splitlines()[-1:])
            rows.append(dict(num_patches=n,
                             patch_micro_batch=micro or None, **row))
            print(json.dumps(rows[-1]), file=sys.stderr)
        if args.device == 'cpu':
            import torch
            torch.set_num_threads(args.threads)
            med = interleaved_seconds(args, n, args.bound)
            for row in rows[-2:]:
                sec = med[row['patch_micro_batch']]
                row['interleaved_seconds_per_step'] = round(sec, 3)
                row['interleaved_images_per_second'] = round(
                    args.images / sec, 2)
    result = dict(
        command=' '.join(['tools/benchmarks/empssl_memory.py'] +
                         (argv if argv is not None else sys.argv[1:])),
        device=args.device, images_per_batch=args.images,
        patch_size=args.patch_size,
        encoder=f'ResNet_CIFAR-18, base width {args.width}',
        projector=f'{8 * args.width}-{args.hidden}-{args.hidden}-{args.out_dim}',
        threads=args.threads if args.device == 'cpu' else None,
        rows=rows)
    from mmeff.apis.benchmarking import print_report
    print_report(result, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
