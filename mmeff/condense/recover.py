"""Recover: synthesise a condensed data set from a squeezed teacher.

SRe2L (Yin, Xing, Shen, "Squeeze, Recover and Relabel: Dataset Condensation at
ImageNet Scale From A New Perspective", NeurIPS 2023), step 2. Starting from
Gaussian noise in the teacher's normalised input space, each synthetic batch
minimises

    CE(f(x), y) + r_bn * sum_l alpha_l (||mu_l(x) - mu_BN,l||
                                        + ||var_l(x) - var_BN,l||)

with the teacher frozen in eval mode. Defaults are the paper's ImageNet-1K
recover settings: ``r_bn = 0.01``, ``alpha = 10`` on the first BN layer,
Adam lr 0.25 with betas (0.5, 0.9) and a cosine schedule, 1K iterations
(the paper reports 1K-4K), and a fresh random-resized crop (scale 0.08-1),
horizontal flip and roll of the whole batch at every step. Like the released
recover code, a batch takes images in ipc-index-major order, so it spans
classes and its BN statistics mix classes as the running statistics do.

Images are written as soon as their batch finishes, as PNGs in an
ImageNet-style layout ``<out>/train/<class>/ipc_<i>.png``, next to a
``recover.json`` sidecar. Each batch's noise and jitter come from a generator
seeded by ``seed`` and the batch's first image, so a rerun skips the images
already on disk and still produces the images an uninterrupted run would.
A folder written with other settings, or holding files but no sidecar, is
refused unless ``overwrite=True``, which first removes the images and the
sidecar a previous recover wrote (nothing else).
"""
import glob
import json
import math
import os
import os.path as osp
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from mmeff.engine.outputs import atomic_write_bytes
from .bn_matching import BNStatsMatcher
from .crops import DEFAULT_SCALE, sample_crop_boxes
from .errors import CondenseError, NoBatchNormError
from .teacher import (channel_order, class_folders,
                      load_teacher, normalisation_of, num_classes_of)

SIDECAR = 'recover.json'
# Settings that change the images; a resumed run must agree on all of them.
_IMAGE_SETTINGS = ('teacher_config', 'teacher_checkpoint', 'classes',
                   'image_size', 'iterations', 'lr', 'betas', 'r_bn',
                   'first_bn_multiplier', 'crop_scale', 'jitter',
                   'batch_size', 'seed', 'grayscale')


def _sidecar_view(settings):
    return {k: settings.get(k) for k in _IMAGE_SETTINGS}


def image_path(out_dir, class_name, index):
    return osp.join(out_dir, 'train', class_name, f'ipc_{index:05d}.png')


def cosine_lr(base_lr, step, total):
    """Learning rate of ``step`` (0-based) under cosine decay to 0."""
    return 0.5 * base_lr * (1 + math.cos(math.pi * step / total))


def jitter_batch(x, rng, scale=DEFAULT_SCALE, max_shift=0):
    """Random-resized crop + flip + roll of a whole batch (differentiable).

    One crop, flip and shift for the batch per call, as in the released
    recover code; ``rng`` (numpy Generator) is the only randomness.
    """
    n, _, h, w = x.shape
    x0, y0, x1, y1 = sample_crop_boxes(rng, [h], [w], scale)[0]
    out = x[:, :, y0:y1, x0:x1]
    if (y1 - y0, x1 - x0) != (h, w):
        out = F.interpolate(out, size=(h, w), mode='bilinear',
                            align_corners=False)
    if rng.random() < 0.5:
        out = out.flip(3)
    if max_shift > 0:
        dy, dx = (int(v) for v in rng.integers(-max_shift, max_shift + 1, 2))
        out = torch.roll(out, shifts=(dy, dx), dims=(2, 3))
    return out


def to_uint8_images(x, mean, std, order='RGB'):
    """Normalised ``[N, C, H, W]`` tensor -> uint8 ``[N, H, W, 3]`` RGB.

    ``order`` is the channel order of ``x`` (the order the teacher's network
    sees); PNGs are always written in true RGB, so a BGR network's images
    are flipped first.
    """
    pixels = (x.detach().cpu().float() * std + mean).clamp(0, 255)
    pixels = pixels.round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, -1)
    return pixels if order == 'RGB' else pixels[..., ::-1]


def _save_png(array, path):
    tmp = path + '.tmp.png'
    Image.fromarray(np.ascontiguousarray(array)).save(tmp)
    os.replace(tmp, path)  # a killed run never leaves a half-written PNG


def _clear_previous(out_dir):
    """Remove what an earlier recover wrote in ``out_dir``."""
    for path in glob.glob(osp.join(glob.escape(out_dir), 'train', '*',
                                   'ipc_*.png')):
        os.remove(path)
    if osp.isfile(osp.join(out_dir, SIDECAR)):
        os.remove(osp.join(out_dir, SIDECAR))


def _check_out_dir(out_dir, settings, overwrite):
    """Resume a folder with the same settings; refuse any other one."""
    sidecar = osp.join(out_dir, SIDECAR)
    if osp.isfile(sidecar):
        with open(sidecar) as f:
            old = json.load(f)
        if _sidecar_view(old) == _sidecar_view(settings):
            return
        diff = [k for k in _IMAGE_SETTINGS if old.get(k) != settings[k]]
        problem = (f'{sidecar}: was written with other settings '
                   f'({", ".join(diff)})')
    elif osp.isdir(out_dir) and os.listdir(out_dir):
        problem = f'{out_dir}: not empty and holds no {SIDECAR}'
    else:
        return
    if not overwrite:
        raise CondenseError(
            f'{problem}; choose a new output folder, the same settings to '
            'resume, or --overwrite to replace its images')
    _clear_previous(out_dir)


def _check_positive(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise CondenseError(
            f'{name} must be a positive integer, got {value!r}')


def recover_batch(model, targets, mean, std, *, image_size, iterations,
                  lr=0.25, betas=(0.5, 0.9), r_bn=0.01,
                  first_bn_multiplier=10., crop_scale=DEFAULT_SCALE,
                  jitter=0, rng, device='cpu', matcher=None, progress=None,
                  grayscale=False):
    """Optimise one synthetic batch for ``targets``; returns ``(x, history)``.

    ``x`` is in the teacher's normalised space, clipped to the range that
    maps to 0-255 pixels. ``history`` holds the total loss of every step.
    With ``grayscale`` one pixel value per position is optimised and
    replicated to every channel, for teachers squeezed on grayscale images
    (whose real inputs never have differing channels).
    """
    own_matcher = matcher is None
    if own_matcher:
        matcher = BNStatsMatcher(model, first_bn_multiplier)
    n = len(targets)
    channels = 1 if grayscale else mean.shape[1]
    noise = torch.from_numpy(rng.standard_normal(
        (n, channels, image_size, image_size)).astype(np.float32))
    x = noise.to(device).requires_grad_(True)
    mean_d, std_d = mean.to(device), std.to(device)
    if grayscale:
        # x lives in channel 0's normalised space; the same pixel value,
        # normalised per channel, feeds every channel.
        def to_input(v):
            return (v * std_d[:, :1] + mean_d[:, :1] - mean_d) / std_d
        low = (0 - mean_d[:, :1]) / std_d[:, :1]
        high = (255 - mean_d[:, :1]) / std_d[:, :1]
    else:
        def to_input(v):
            return v
        low, high = (0 - mean_d) / std_d, (255 - mean_d) / std_d
    targets = torch.as_tensor(targets, device=device)
    optimizer = torch.optim.Adam([x], lr=lr, betas=betas, eps=1e-8)
    history = []
    try:
        for step in range(iterations):
            for group in optimizer.param_groups:
                group['lr'] = cosine_lr(lr, step, iterations)
            logits = model(jitter_batch(to_input(x), rng, crop_scale,
                                        jitter), mode='tensor')
            loss = F.cross_entropy(logits, targets) + r_bn * matcher.loss()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                x.copy_(torch.maximum(torch.minimum(x, high), low))
            history.append(loss.item())
            if progress is not None:
                progress.update(1)
                progress.set_postfix(loss=f'{history[-1]:.3f}', refresh=False)
    finally:
        if own_matcher:
            matcher.remove()
    return to_input(x.detach()), history


def recover(teacher_config, teacher_checkpoint, out_dir, ipc, *,
            classes_from=None, image_size=None, iterations=1000, lr=0.25,
            betas=(0.5, 0.9), r_bn=0.01, first_bn_multiplier=10.,
            crop_scale=DEFAULT_SCALE, jitter=None, batch_size=100, seed=0,
            grayscale=False, device='cpu', progress=True, overwrite=False):
    """Synthesise ``ipc`` images per class into ``out_dir``.

    Args:
        teacher_config (str): config the teacher was squeezed with.
        teacher_checkpoint (str): its checkpoint (MMEngine format).
        out_dir (str): receives ``train/<class>/ipc_<i>.png`` and
            ``recover.json``.
        ipc (int): images per class (the paper reports 10/50/100/200).
        classes_from (str): an ImageNet-style folder whose sorted class
            folders name the teacher's classes (normally the squeeze
            training folder); defaults to the teacher config's train split.
        image_size (int): side of the synthetic images; defaults to the
            teacher config's train crop size.
        jitter (int): maximal roll in pixels; default ``image_size // 8``
            (the released code rolls up to 32 px at 224).
        batch_size (int): images per optimised batch, taken in
            ipc-index-major order (the paper's 100 on ImageNet-1K is one
            image of each of 100 classes).
        grayscale (bool): synthesise images with equal channels, for a
            teacher squeezed on grayscale data (e.g. the bundled
            Fashion-MNIST); not part of the paper, which uses colour data.
        device (str): ``'cpu'`` or ``'cuda'``/``'cuda:N'``.
        overwrite (bool): replace the images of a folder written with other
            settings (or holding files but no sidecar) instead of refusing.

    Returns:
        dict: the settings sidecar plus ``written`` (images made by this
        call), ``skipped`` (already on disk), ``seconds``,
        ``image_iterations_per_second`` of this call, and the process's
        ``peak_rss_mib`` (plus ``peak_cuda_mib`` on CUDA).
    """
    _check_positive('ipc', ipc)
    _check_positive('iterations', iterations)
    _check_positive('batch_size', batch_size)
    model, cfg = load_teacher(teacher_config, teacher_checkpoint, device)
    for p in model.parameters():
        p.requires_grad_(False)
    num_classes = num_classes_of(model, teacher_config)
    if classes_from is None:
        classes_from = _train_folder(cfg, teacher_config)
    classes = class_folders(classes_from, num_classes)
    if image_size is None:
        image_size = _train_crop_size(cfg, teacher_config)
    _check_positive('image_size', image_size)
    if jitter is None:
        jitter = max(image_size // 8, 0)
    mean, std = normalisation_of(model)
    order = channel_order(model, cfg)
    settings = dict(
        method='SRe2L recover', teacher_config=osp.abspath(teacher_config),
        teacher_checkpoint=osp.abspath(teacher_checkpoint),
        classes=classes, ipc=ipc, image_size=image_size,
        iterations=iterations, lr=lr, betas=list(betas), r_bn=r_bn,
        first_bn_multiplier=first_bn_multiplier, crop_scale=list(crop_scale),
        jitter=jitter, batch_size=batch_size, seed=seed, grayscale=grayscale,
        mean=mean.flatten().tolist(), std=std.flatten().tolist(),
        channel_order=order)
    _check_out_dir(out_dir, settings, overwrite)
    for name in classes:
        os.makedirs(osp.join(out_dir, 'train', name), exist_ok=True)
    atomic_write_bytes(osp.join(out_dir, SIDECAR),
                       json.dumps(settings, indent=2).encode())

    matcher = BNStatsMatcher(model, first_bn_multiplier, name=teacher_config)
    # Image order is ipc-index-major, so a batch spans all classes as in the
    # released code; only images not yet on disk are made.
    pending = [(i, k) for i in range(ipc) for k in range(num_classes)
               if not osp.isfile(image_path(out_dir, classes[k], i))]
    batches = [pending[s:s + batch_size]
               for s in range(0, len(pending), batch_size)]
    skipped = ipc * num_classes - len(pending)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(batches) * iterations, desc='recover',
                   unit='step', dynamic_ncols=True)
    written, start = 0, time.perf_counter()
    try:
        for batch in batches:
            # Seeded by the batch's first image: a resumed run redoes a
            # batch exactly as an uninterrupted run would have.
            rng = np.random.default_rng([seed, *batch[0]])
            x, _ = recover_batch(
                model, [k for _, k in batch], mean, std,
                image_size=image_size, iterations=iterations, lr=lr,
                betas=betas, r_bn=r_bn, crop_scale=crop_scale, jitter=jitter,
                rng=rng, device=device, matcher=matcher, progress=bar,
                grayscale=grayscale)
            for (i, k), pixels in zip(batch, to_uint8_images(x, mean, std,
                                                             order)):
                _save_png(pixels, image_path(out_dir, classes[k], i))
            written += len(batch)
    finally:
        matcher.remove()
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    return dict(settings, written=written, skipped=skipped, seconds=seconds,
                image_iterations_per_second=(written * iterations / seconds
                                             if written else None),
                **_peak_memory(device))


def _peak_memory(device):
    """Peak resident memory of this process (and CUDA allocations), MiB."""
    import resource
    peak = dict(peak_rss_mib=resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024)  # Linux reports KiB
    if str(device).startswith('cuda'):
        peak['peak_cuda_mib'] = torch.cuda.max_memory_allocated(
            device) / 2**20
    return peak


def _train_folder(cfg, config_path):
    loader = cfg.get('train_dataloader') or {}
    dataset = loader.get('dataset') or {}
    root = dataset.get('data_root') or ''
    prefix = dataset.get('data_prefix') or ''
    if isinstance(prefix, dict):
        prefix = prefix.get('img_path', '')
    folder = osp.join(root, prefix)
    if not folder:
        raise CondenseError(f'{config_path}: no train data folder to take '
                            'class names from; pass classes_from')
    return folder


def _train_crop_size(cfg, config_path):
    """Side of the teacher's training crops, read from its train pipeline."""
    pipeline = (cfg.get('train_dataloader') or {}).get('dataset', {}).get(
        'pipeline', [])
    size = None
    for t in pipeline:
        for key in ('scale', 'crop_size', 'size'):
            if t.get('type') in ('RandomResizedCrop', 'RandomCrop',
                                 'CenterCrop', 'Resize') and key in t:
                size = t[key]
    if isinstance(size, (list, tuple)):
        size = size[0]
    if not isinstance(size, int):
        raise CondenseError(f'{config_path}: cannot read the training crop '
                            'size from the train pipeline; pass image_size')
    return size


__all__ = ['recover', 'recover_batch', 'jitter_batch', 'cosine_lr',
           'to_uint8_images', 'image_path', 'CondenseError',
           'NoBatchNormError']
