"""What the benchmarks share: step time and FLOPs, proxy-vs-time curves.

A curve is a list of :class:`~mmeff.engine.hooks.FeatureProbeHook` points,
``dict(train_seconds, iterations, images_seen, knn_top1)``, in time order.
"""
import copy
import json
import time


def seconds_per_iteration(cfg, warmup=3, iters=12):
    """Median seconds of one training iteration of ``cfg`` (loading included).

    Builds the model and the (torch) train loader of ``cfg`` outside a Runner
    and times ``warmup + iters`` AdamW steps; the median of the last
    ``iters`` drops worker start-up.
    """
    import torch
    from mmengine.runner import Runner
    from mmpretrain.registry import MODELS
    model = MODELS.build(cfg.model)
    model.init_weights()
    optim = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.sampler = dict(type='InfiniteSampler', shuffle=True)
    loader = Runner.build_dataloader(loader_cfg)
    times, batches = [], iter(loader)
    for _ in range(warmup + iters):
        start = time.perf_counter()
        batch = next(batches)
        losses = model(**model.data_preprocessor(batch, True), mode='loss')
        optim.zero_grad()
        sum(losses.values()).backward()
        optim.step()
        times.append(time.perf_counter() - start)
    times = sorted(times[warmup:])
    return times[len(times) // 2]


def step_flops(model, size, batch):
    """Forward + backward FLOPs of one training step of ``model`` at ``size``.

    Counted by torch's FlopCounterMode (matrix products, convolutions,
    attention) on ``batch`` random images; the gradients are cleared after.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    param = next(model.parameters())
    images = torch.randn(batch, 3, size, size, device=param.device)
    with FlopCounterMode(display=False) as counter:
        losses = model.loss(images, None)
        sum(losses.values()).backward()
    model.zero_grad()
    return counter.get_total_flops()


def time_to_reach(curve, target):
    """Training seconds of the first point with ``knn_top1 >= target``.

    None when the curve never gets there.
    """
    for point in curve:
        if point['knn_top1'] >= target:
            return point['train_seconds']
    return None


def plot_proxy_curves(curves, path, title, labels=None, target=None,
                      device=None):
    """Draw ``{name: curve}`` as held-out kNN top-1 against training time.

    Args:
        labels (dict, optional): legend text per name (default: the name).
        target (float, optional): draw this proxy level as a dashed line.
        device (str, optional): what the runs trained on, for the axis label
            (default: ``'CUDA'`` when torch sees a GPU, else ``'CPU'``).
    """
    if device is None:
        import torch
        device = 'CUDA' if torch.cuda.is_available() else 'CPU'

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    labels = labels or {}
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, curve in curves.items():
        xs = [p['train_seconds'] for p in curve]
        ys = [p['knn_top1'] for p in curve]
        ax.plot(xs, ys, marker='o', label=labels.get(name, name))
    if target is not None:
        ax.axhline(target, color='gray', linestyle='--', linewidth=1)
    ax.set_xlabel(f'training wall time (s, {device})')
    ax.set_ylabel('held-out kNN top-1 (%)')
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def print_report(report, out=None, indent=2):
    """Print a benchmark's JSON report and, with ``out``, write it there."""
    text = json.dumps(report, indent=indent)
    print(text)
    if out:
        from mmeff.fileio import atomic_write_bytes
        atomic_write_bytes(out, (text + '\n').encode())
