"""The benchmark harness every benchmark in ``tools/benchmarks`` uses.

Timing: :func:`timed` (one run), :func:`time_calls` (warm-up calls, then
one time per timed call) and :func:`time_block` (warm-up calls, then one
timed block, for steps whose device work is only waited for at the end);
:func:`median` and :func:`spread` summarise repeats; :func:`print_report`
prints the JSON report with the :func:`environment` it was measured in and
writes it.
Shared measurements: step time and FLOPs, resolution per epoch,
proxy-vs-time curves; the ESSL benchmarks' test images and record bytes.
A curve is a list of :class:`~mmeff.engine.hooks.FeatureProbeHook` points,
``dict(train_seconds, iterations, images_seen, knn_top1)``, in time order.
"""
import copy
import json
import os
import platform
import statistics
import time


def timed(fn, *args, **kwargs):
    """``(fn(*args, **kwargs), seconds it took)``: a one-off measurement,
    such as a whole training run."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def time_calls(fn, repeats, warmup=0, sync=None):
    """Seconds of each of ``repeats`` calls of ``fn`` after ``warmup``
    untimed ones. ``sync`` (e.g. ``torch.cuda.synchronize``) runs before
    each timed call starts and before it is stopped."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if sync is not None:
            sync()
        start = time.perf_counter()
        fn()
        if sync is not None:
            sync()
        times.append(time.perf_counter() - start)
    return times


def time_block(fn, iters, warmup=0, sync=None):
    """Mean seconds per call of ``fn`` over one timed block of ``iters``
    calls after ``warmup`` untimed ones; ``sync`` runs at the block's ends
    only, so queued device work overlaps as in training."""
    for _ in range(warmup):
        fn()
    if sync is not None:
        sync()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    if sync is not None:
        sync()
    return (time.perf_counter() - start) / iters


def median(values):
    """The middle of ``values`` (the upper middle one for an even count):
    always a value that was measured."""
    return statistics.median_high(values)


def spread(values, digits=3):
    """``dict(median, min, max, n)`` of repeated measurements."""
    return dict(median=round(median(values), digits),
                min=round(min(values), digits),
                max=round(max(values), digits), n=len(values))


def environment():
    """Where a benchmark ran: host, CPUs, Python, torch, threads, device."""
    import torch
    env = dict(host=platform.node(), platform=platform.platform(),
               cpu_count=os.cpu_count(), python=platform.python_version(),
               torch=torch.__version__, torch_threads=torch.get_num_threads(),
               device='cuda' if torch.cuda.is_available() else 'cpu')
    if torch.cuda.is_available():
        env['cuda_device'] = torch.cuda.get_device_name()
    return env


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
    batches = iter(loader)

    def step():
        batch = next(batches)
        losses = model(**model.data_preprocessor(batch, True), mode='loss')
        optim.zero_grad()
        sum(losses.values()).backward()
        optim.step()

    return median(time_calls(step, iters, warmup))


def sizes_per_epoch(runner):
    """The input size of each epoch of ``runner``'s training: the
    curriculum hook's schedule, else the backbone's fixed size."""
    hooks = {type(h).__name__: h for h in runner.hooks}
    n = runner.max_epochs
    if 'EfficientTrainHook' in hooks:
        return [hooks['EfficientTrainHook'].schedule.bandwidth(e)
                for e in range(n)]
    if 'ProgressiveResolutionHook' in hooks:
        return [hooks['ProgressiveResolutionHook'].stage_for_epoch(e, n).size
                for e in range(n)]
    return [runner.model.backbone.patch_resolution[0] *
            runner.model.backbone.patch_size] * n


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


def time_to_reach(curve, target, key='knn_top1'):
    """Training seconds of the first point with ``point[key] >= target``.

    None when the curve never gets there.
    """
    for point in curve:
        if point[key] >= target:
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


def with_environment(report):
    """``report`` with an ``environment`` entry (kept if it has one)."""
    return report if 'environment' in report else dict(
        report, environment=environment())


def write_report(report, out, indent=2):
    """Write the JSON report (with its environment) to ``out``, without
    printing: for a report kept up to date while a benchmark runs."""
    from mmeff.fileio import atomic_write_bytes
    atomic_write_bytes(out, (json.dumps(with_environment(report),
                                        indent=indent) + '\n').encode())


def print_report(report, out=None, indent=2):
    """Print a benchmark's JSON report, with the :func:`environment` it was
    measured in, and with ``out`` write it there."""
    report = with_environment(report)
    print(json.dumps(report, indent=indent))
    if out:
        write_report(report, out, indent)


# Real photographs shipped in scikit-image, cut into the loader benchmarks'
# test images.
LOADER_IMAGE_SOURCES = (
    'astronaut', 'coffee', 'chelsea', 'rocket', 'hubble_deep_field',
    'immunohistochemistry', 'retina', 'camera', 'grass', 'gravel', 'brick',
    'moon')


def loader_benchmark_images(root, num_images, seed=0, quality=90):
    """Write ``num_images`` JPEGs of 500x375 or 375x500 (quality
    ``quality``), cut at random positions and scales from scikit-image's
    photographs, in one class folder per photograph; once per
    (count, seed, quality)."""
    import cv2
    import numpy as np
    import skimage.data
    from PIL import Image
    stamp = os.path.join(root, f'.done-{num_images}-{seed}-{quality}')
    if os.path.isfile(stamp):
        return root
    rng = np.random.default_rng(seed)
    photos = []
    for name in LOADER_IMAGE_SOURCES:
        img = getattr(skimage.data, name)()
        if img.ndim == 2:
            img = np.stack([img] * 3, -1)
        photos.append(np.ascontiguousarray(img[..., :3]))
        os.makedirs(os.path.join(root, name), exist_ok=True)
    for i in range(num_images):
        c = i % len(LOADER_IMAGE_SOURCES)
        src = photos[c]
        h, w = src.shape[:2]
        out_w, out_h = (500, 375) if rng.random() < 0.75 else (375, 500)
        # A box of the output's aspect ratio, 30-100% of the largest one.
        side = rng.uniform(0.3, 1.0) * min(w / out_w, h / out_h)
        bw, bh = max(8, int(out_w * side)), max(8, int(out_h * side))
        x, y = rng.integers(0, w - bw + 1), rng.integers(0, h - bh + 1)
        crop = src[y:y + bh, x:x + bw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        interp = cv2.INTER_AREA if bw >= out_w else cv2.INTER_CUBIC
        crop = cv2.resize(np.ascontiguousarray(crop), (out_w, out_h),
                          interpolation=interp)
        Image.fromarray(crop).save(os.path.join(
            root, LOADER_IMAGE_SOURCES[c], f'{i:06d}.jpg'), quality=quality)
    open(stamp, 'w').close()
    return root


def loader_benchmark_files(work_dir, num_images, restart_intervals,
                           quality=90, workers=2):
    """The benchmark images under ``work_dir`` and one ESSL file of them per
    restart interval (0: no restart markers), each written once; returns
    ``(image folder, {interval: ESSL path})``."""
    from mmeff.data.essl import write_essl
    image_dir = os.path.join(work_dir, f'images-{num_images}')
    loader_benchmark_images(image_dir, num_images, quality=quality)
    files = {}
    for interval in restart_intervals:
        beton = os.path.join(work_dir, f'essl-{num_images}'
                             + (f'-rst{interval}' if interval else '')
                             + '.beton')
        if not os.path.isfile(beton + '.meta.json'):
            write_essl(image_dir, beton, write_mode='jpg', max_resolution=500,
                       jpeg_quality=quality, progress=False,
                       num_workers=workers, restart_interval=interval)
        files[interval] = beton
    return image_dir, files


def essl_record_bytes(path):
    """Bytes of all image records of an ESSL file (the file itself is
    padded to pages)."""
    from mmeff.data.essl.reader import ESSLRecords
    records = ESSLRecords(path)
    return int(sum(records._sizes[int(p)] for p in records.images['data_ptr']))
