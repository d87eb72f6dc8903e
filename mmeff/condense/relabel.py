"""Relabel: store the teacher's logits on every crop the student will see.

SRe2L (Yin, Xing, Shen, NeurIPS 2023), step 3, FKD-style. For each student
epoch ``e`` the crops of all images are drawn from a generator seeded by
``(seed, e)`` -- a random-resized crop (scale 0.08-1, ratio 3/4-4/3, the
paper's student augmentation) and a horizontal flip -- rendered exactly as
the student's :class:`~mmeff.condense.soft_labels.RelabelledDataset` will
render them, and labelled by the teacher. One file per epoch,
``epoch_<e>.pt``, holds

- ``boxes``: int16 ``[N, 4]`` crop boxes (8 bytes per image),
- ``flips``: bool ``[N]`` (1 byte per image),
- ``logits``: fp16 ``[N, C]`` teacher logits (2C bytes per image),
- ``meta``: seed, epoch, image count, class count, crop size, a digest of
  the image list.

So an epoch costs ``N * (9 + 2C)`` bytes of arrays plus the container's
fixed overhead (:func:`bytes_per_epoch`). Mix augmentations (the CutMix of
the released code) are not applied: every stored crop is one image's.
"""
import glob
import os
import os.path as osp
import time

import numpy as np
import torch
from PIL import Image

from mmeff.engine.outputs import OutputExistsError, atomic_output
from .crops import (DEFAULT_RATIO, DEFAULT_SCALE, sample_crop_boxes,
                    sample_flips)
from .errors import CondenseError
from .soft_labels import FORMAT, RelabelledDataset, epoch_file
from .teacher import (channel_order, load_teacher, num_classes_of,
                      read_like_recovered_pngs)


def bytes_per_epoch(num_images, num_classes):
    """Array bytes of one epoch file: boxes + flips + fp16 logits."""
    return num_images * (4 * 2 + 1 + 2 * num_classes)


def draw_crops(seed, epoch, sizes, scale=DEFAULT_SCALE, ratio=DEFAULT_RATIO):
    """Crop boxes and flips of one epoch; ``sizes`` is ``[(h, w)]``."""
    rng = np.random.default_rng([seed, epoch])
    sizes = np.asarray(sizes).reshape(-1, 2)
    boxes = sample_crop_boxes(rng, sizes[:, 0], sizes[:, 1], scale, ratio)
    flips = sample_flips(rng, len(sizes))
    return boxes, flips


def crop_pipeline(crop_size):
    """The pipeline relabel renders crops with; the student config uses it."""
    return [dict(type='LoadImageFromFile'),
            dict(type='ReplayCrop', scale=crop_size),
            dict(type='PackInputs')]


@torch.no_grad()
def teacher_logits(model, dataset, batch_size=256, device='cpu'):
    """Teacher logits (fp32) on every item of ``dataset``, in order."""
    out = []
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size,
                                                      len(dataset)))]
        data = model.data_preprocessor(
            dict(inputs=torch.stack([it['inputs'] for it in items])), False)
        out.append(model(data['inputs'].to(device), mode='tensor').float()
                   .cpu())
    return torch.cat(out)


def relabel(teacher_config, teacher_checkpoint, data_root, out_dir, epochs,
            *, data_prefix='train', crop_size=None, seed=0,
            scale=DEFAULT_SCALE, ratio=DEFAULT_RATIO, batch_size=256,
            device='cpu', progress=True, overwrite=False):
    """Write ``epoch_0000.pt`` ... for ``epochs`` student epochs.

    Args:
        data_root, data_prefix: the condensed set (``recover``'s output
            folder and its ``train`` split).
        crop_size (int): student input side; default: the images' own side.
        seed (int): crops of epoch ``e`` come from ``(seed, e)``; the student
            dataset must name the same seed.
        overwrite (bool): replace the epoch files ``out_dir`` already
            holds (all of them, so no file of the old set survives);
            without it such a folder is refused.

    Returns:
        dict: what was written (``epochs``, ``num_images``, ``num_classes``,
        ``bytes_per_epoch`` of arrays, ``file_bytes`` of the first file,
        ``seconds``).
    """
    if not isinstance(epochs, int) or epochs <= 0:
        raise CondenseError(
            f'epochs must be a positive integer, got {epochs!r}')
    old = sorted(glob.glob(osp.join(glob.escape(out_dir), 'epoch_*.pt')))
    if old and not overwrite:
        raise OutputExistsError(
            f'{out_dir} already holds {len(old)} relabel files '
            f'({osp.basename(old[0])}, ...); pass --overwrite to replace '
            'them, or choose another folder')
    model, cfg = load_teacher(teacher_config, teacher_checkpoint, device)
    # Recovered PNGs are true RGB and load as BGR: feed the teacher the
    # channel order it was trained on.
    read_like_recovered_pngs(model, channel_order(model, cfg))
    num_classes = num_classes_of(model, teacher_config)
    folder = osp.join(data_root, data_prefix)
    if not osp.isdir(folder):
        raise CondenseError(f'condensed data folder not found: {folder}')
    probe = RelabelledDataset(data_root=data_root, data_prefix=data_prefix,
                              crops=dict(boxes=np.zeros((0, 4)),
                                         flips=np.zeros(0)), pipeline=[])
    if len(probe.CLASSES) != num_classes:
        raise CondenseError(
            f'{folder}: {len(probe.CLASSES)} class folders, but the teacher '
            f'has {num_classes} classes')
    sizes = []
    for info in probe.infos():
        with Image.open(info['img_path']) as im:
            sizes.append((im.height, im.width))
    if crop_size is None:
        crop_size = int(sizes[0][0])
    os.makedirs(out_dir, exist_ok=True)
    for path in old:  # epochs of the old set must not outlive it
        os.remove(path)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=epochs, desc='relabel', unit='epoch')
    start = time.perf_counter()
    for epoch in range(epochs):
        boxes, flips = draw_crops(seed, epoch, sizes, scale, ratio)
        dataset = RelabelledDataset(
            data_root=data_root, data_prefix=data_prefix,
            crops=dict(boxes=boxes, flips=flips),
            pipeline=crop_pipeline(crop_size))
        logits = teacher_logits(model, dataset, batch_size, device)
        record = dict(
            meta=dict(format=FORMAT, seed=seed, epoch=epoch,
                      num_images=len(dataset), num_classes=num_classes,
                      crop_size=crop_size, scale=list(scale),
                      ratio=list(ratio), files_digest=dataset.digest,
                      teacher_config=osp.abspath(teacher_config)),
            boxes=torch.from_numpy(boxes.astype(np.int16)),
            flips=torch.from_numpy(flips.astype(bool)),
            logits=logits.half())
        with atomic_output(epoch_file(out_dir, epoch)) as tmp:
            torch.save(record, tmp)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    n = len(sizes)
    return dict(epochs=epochs, num_images=n, num_classes=num_classes,
                crop_size=crop_size, seed=seed,
                bytes_per_epoch=bytes_per_epoch(n, num_classes),
                file_bytes=osp.getsize(epoch_file(out_dir, 0)),
                seconds=time.perf_counter() - start)
