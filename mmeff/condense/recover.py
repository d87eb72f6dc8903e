"""Recover: synthesise a condensed data set from a squeezed teacher.

SRe2L (Yin, Xing, Shen, "Squeeze, Recover and Relabel: Dataset Condensation at
ImageNet Scale From A New Perspective", NeurIPS 2023), step 2. Starting from
Gaussian noise in the teacher's normalised input space, each synthetic batch
minimises

    CE(f(x), y) + r_bn * sum_l alpha_l (||mu_l(x) - mu_BN,l||
                                        + ||var_l(x) - var_BN,l||)

with the teacher frozen in eval mode, under Adam (betas 0.5, 0.9) with a
cosine learning rate. Every step sees an augmented view of the batch: a
random-resized crop and a flip (ImageNet, Tiny-ImageNet recipes; none for
CIFAR) and a roll. The settings are those of the authors' released scripts,
chosen per data set (:mod:`mmeff.condense.presets`: ``'imagenet'``,
``'cifar'``, ``'tiny'``; by default the one for the image size). Like the
released code, a batch takes images in ipc-index-major order, so it spans
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
import os
import os.path as osp
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from mmeff.engine.curricula import cosine_lr_factor
from mmeff.engine.outputs import check_writable_dir
from mmeff.fileio import atomic_output, atomic_write_bytes

from .bn_matching import BNStatsMatcher
from .crops import sample_crop_boxes
from .errors import CondenseError, NoBatchNormError
from .presets import RECOVER_BETAS, recover_preset
from .teacher import build_teacher, class_folders

SIDECAR = 'recover.json'
# Settings that change the images; a resumed run must agree on all of them.
_IMAGE_SETTINGS = ('teacher_config', 'teacher_checkpoint', 'classes',
                   'image_size', 'iterations', 'lr', 'betas', 'r_bn',
                   'first_bn_multiplier', 'crop_scale', 'flip', 'shift',
                   'batch_size', 'seed', 'grayscale')


def _sidecar_view(settings):
    return {k: settings.get(k) for k in _IMAGE_SETTINGS}


def image_path(out_dir, class_name, index):
    return osp.join(out_dir, 'train', class_name, f'ipc_{index:05d}.png')


def cosine_lr(base_lr, step, total):
    """Learning rate of ``step`` (0-based) under cosine decay to 0."""
    return base_lr * cosine_lr_factor(step / total)


def jitter_batch(x, rng, crop_scale=None, flip=False, shift=(0, 0)):
    """Augmented view of a whole batch (differentiable), one draw per call.

    In order, as in the released recover code: a random-resized crop of
    area fraction ``crop_scale`` resized back to the input size (``None``:
    no crop), a horizontal flip with probability 0.5 (if ``flip``), and a
    ``torch.roll`` by a shift drawn uniformly from the integers
    ``shift[0]..shift[1]`` (inclusive) per spatial axis. ``rng`` (numpy
    Generator) is the only randomness.
    """
    _, _, h, w = x.shape
    out = x
    if crop_scale is not None:
        x0, y0, x1, y1 = sample_crop_boxes(rng, [h], [w], crop_scale)[0]
        out = x[:, :, y0:y1, x0:x1]
        if (y1 - y0, x1 - x0) != (h, w):
            out = F.interpolate(out, size=(h, w), mode='bilinear',
                                align_corners=False)
    if flip and rng.random() < 0.5:
        out = out.flip(3)
    if tuple(shift) != (0, 0):
        dy, dx = (int(v) for v in rng.integers(shift[0], shift[1] + 1, 2))
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
    # A killed run never leaves a half-written PNG under its final name.
    with atomic_output(path) as tmp:
        Image.fromarray(np.ascontiguousarray(array)).save(tmp, format='PNG')


def intact_image(path, image_size):
    """Whether ``path`` is a PNG this recover could have written: it decodes
    in full, ``image_size`` square, RGB."""
    try:
        with Image.open(path) as img:
            img.load()
            return (img.format == 'PNG' and img.mode == 'RGB'
                    and img.size == (image_size, image_size))
    except (OSError, ValueError, SyntaxError):  # PIL's errors for bad data
        return False


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


def _pixel_space(mean, std, grayscale):
    """``(to_input, low, high)`` of the optimised tensor.

    With ``grayscale`` the tensor holds channel 0's normalised value, and
    ``to_input`` feeds the same pixel, normalised per channel, to every
    channel; ``low``/``high`` bound the values that map to 0-255 pixels.
    """
    if grayscale:
        def to_input(v):
            return (v * std[:, :1] + mean[:, :1] - mean) / std
        return (to_input, (0 - mean[:, :1]) / std[:, :1],
                (255 - mean[:, :1]) / std[:, :1])
    return (lambda v: v), (0 - mean) / std, (255 - mean) / std


def recover_batch(model, targets, mean, std, *, image_size, iterations,
                  lr=0.25, betas=RECOVER_BETAS, r_bn=0.01,
                  first_bn_multiplier=10., crop_scale=None, flip=False,
                  shift=(0, 0), rng, device='cpu', matcher=None,
                  progress=None, grayscale=False):
    """Optimise one synthetic batch for ``targets``; returns ``(x, history)``.

    ``x`` is in the teacher's normalised space, clipped to the range that
    maps to 0-255 pixels. ``history`` holds the total loss of every step.
    ``crop_scale``, ``flip`` and ``shift`` are the per-step augmentation of
    :func:`jitter_batch`. With ``grayscale`` one pixel value per position is
    optimised and replicated to every channel, for teachers squeezed on
    grayscale images (whose real inputs never have differing channels).
    """
    own_matcher = matcher is None
    if own_matcher:
        matcher = BNStatsMatcher(model, first_bn_multiplier)
    channels = 1 if grayscale else mean.shape[1]
    noise = torch.from_numpy(rng.standard_normal(
        (len(targets), channels, image_size, image_size)).astype(np.float32))
    x = noise.to(device).requires_grad_(True)
    to_input, low, high = _pixel_space(mean.to(device), std.to(device),
                                       grayscale)
    targets = torch.as_tensor(targets, device=device)
    optimizer = torch.optim.Adam([x], lr=lr, betas=betas, eps=1e-8)
    history = []
    try:
        for step in range(iterations):
            for group in optimizer.param_groups:
                group['lr'] = cosine_lr(lr, step, iterations)
            view = jitter_batch(to_input(x), rng, crop_scale, flip, shift)
            logits = model(view, mode='tensor')
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
            classes_from=None, image_size=None, preset=None, iterations=None,
            lr=None, r_bn=None, first_bn_multiplier=None, crop_scale='preset',
            flip=None, shift=None, batch_size=None, seed=0, grayscale=False,
            device='cpu', progress=True, overwrite=False):
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
        preset (str): released recipe the settings below default to:
            ``'imagenet'``, ``'cifar'`` or ``'tiny'``
            (:data:`~mmeff.condense.presets.RECOVER_PRESETS`); default: by
            image size (``'cifar'`` up to 32 px).
        iterations, lr, r_bn, first_bn_multiplier, flip: ``None`` takes the
            preset's value.
        crop_scale (tuple | None): area fraction of the random-resized crop
            of every step; ``None``: no crop; default: the preset's.
        shift (tuple): inclusive range of the roll per axis, in pixels
            (``(0, 32)`` is the released ``--jitter 32``).
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
    teacher = build_teacher(teacher_config, teacher_checkpoint, device)
    model = teacher.model
    for p in model.parameters():
        p.requires_grad_(False)
    overrides = dict(iterations=iterations, lr=lr, r_bn=r_bn, flip=flip,
                     first_bn_multiplier=first_bn_multiplier, shift=shift,
                     batch_size=batch_size, crop_scale=crop_scale)
    settings = _settings(teacher, classes_from, image_size, preset,
                         overrides, ipc=ipc, seed=seed, grayscale=grayscale)
    check_writable_dir(out_dir, hint='choose another output folder')
    _check_out_dir(out_dir, settings, overwrite)
    for name in settings['classes']:
        os.makedirs(osp.join(out_dir, 'train', name), exist_ok=True)
    atomic_write_bytes(osp.join(out_dir, SIDECAR),
                       json.dumps(settings, indent=2).encode())
    start = time.perf_counter()
    written, skipped, redone = _recover_pending(model, settings, out_dir,
                                                device, progress)
    seconds = time.perf_counter() - start
    rate = written * settings['iterations'] / seconds if written else None
    return dict(settings, written=written, skipped=skipped, redone=redone,
                seconds=seconds, image_iterations_per_second=rate,
                **_peak_memory(device))


def _settings(teacher, classes_from, image_size, preset, overrides, **fixed):
    """The run's full settings: the preset's, overridden where given."""
    if classes_from is None:
        classes_from = teacher.require_train_folder()
    classes = class_folders(classes_from, teacher.num_classes)
    if image_size is None:
        image_size = teacher.require_train_crop_size()
    _check_positive('image_size', image_size)
    preset, chosen = recover_preset(preset, image_size)
    for key, value in overrides.items():
        # crop_scale=None is a choice (no crop); 'preset' leaves it alone.
        if (value != 'preset' if key == 'crop_scale' else value is not None):
            chosen[key] = value
    _check_positive('iterations', chosen['iterations'])
    _check_positive('batch_size', chosen['batch_size'])
    return dict(
        method='SRe2L recover', preset=preset,
        teacher_config=teacher.config,
        teacher_checkpoint=teacher.checkpoint, classes=classes,
        image_size=image_size, betas=list(RECOVER_BETAS), **fixed,
        **{k: list(v) if isinstance(v, tuple) else v
           for k, v in chosen.items()},
        mean=teacher.mean.flatten().tolist(),
        std=teacher.std.flatten().tolist(),
        channel_order=teacher.channel_order)


def _pending_images(settings, out_dir):
    """``(pending, redone)``: the images to make, in ipc-index-major order
    (a batch spans all classes as in the released code), and how many of
    them are on disk but damaged (truncated, empty, another size or mode)."""
    classes, size = settings['classes'], settings['image_size']
    pending, redone = [], 0
    for i in range(settings['ipc']):
        for k, name in enumerate(classes):
            path = image_path(out_dir, name, i)
            if osp.isfile(path) and intact_image(path, size):
                continue
            redone += osp.lexists(path)
            pending.append((i, k))
    return pending, redone


def _recover_pending(model, settings, out_dir, device, progress):
    """Make every image not intact on disk; ``(written, skipped, redone)``."""
    s = settings
    classes, ipc, iters = s['classes'], s['ipc'], s['iterations']
    mean = torch.tensor(s['mean']).view(1, -1, 1, 1)
    std = torch.tensor(s['std']).view(1, -1, 1, 1)
    pending, redone = _pending_images(s, out_dir)
    batches = [pending[b:b + s['batch_size']]
               for b in range(0, len(pending), s['batch_size'])]
    matcher = BNStatsMatcher(model, s['first_bn_multiplier'],
                             name=s['teacher_config'])
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(batches) * iters, desc='recover', unit='step',
                   dynamic_ncols=True)
    crop = None if s['crop_scale'] is None else tuple(s['crop_scale'])
    try:
        for batch in batches:
            # Seeded by the batch's first image: a resumed run redoes a
            # batch exactly as an uninterrupted run would have.
            x, _ = recover_batch(
                model, [k for _, k in batch], mean, std,
                image_size=s['image_size'], iterations=iters, lr=s['lr'],
                r_bn=s['r_bn'], crop_scale=crop, flip=s['flip'],
                shift=tuple(s['shift']), device=device, matcher=matcher,
                rng=np.random.default_rng([s['seed'], *batch[0]]),
                progress=bar, grayscale=s['grayscale'])
            images = to_uint8_images(x, mean, std, s['channel_order'])
            for (i, k), pixels in zip(batch, images):
                _save_png(pixels, image_path(out_dir, classes[k], i))
    finally:
        matcher.remove()
        if bar is not None:
            bar.close()
    return len(pending), ipc * len(classes) - len(pending), redone


def _peak_memory(device):
    """Peak resident memory of this process (and CUDA allocations), MiB."""
    import resource
    peak = dict(peak_rss_mib=resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024)  # Linux reports KiB
    if str(device).startswith('cuda'):
        peak['peak_cuda_mib'] = torch.cuda.max_memory_allocated(
            device) / 2**20
    return peak


__all__ = ['recover', 'recover_batch', 'jitter_batch', 'cosine_lr',
           'to_uint8_images', 'image_path', 'CondenseError',
           'NoBatchNormError']
