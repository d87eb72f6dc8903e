"""Relabel: store the teacher's logits on every crop the student will see.

SRe2L (Yin, Xing, Shen, NeurIPS 2023), step 3, FKD-style, as the released
``SRe2L/relabel`` code (VILA-Lab/SRe2L, ``relabel.sh``, ``utils_fkd.py``).
For each student epoch ``e`` the augmentation of all images is drawn from
generators seeded by ``(seed, e)``: a random-resized crop (scale 0.08-1,
ratio 3/4-4/3) and a horizontal flip per image, then CutMix
(:func:`draw_cutmix`): the epoch's images in a random order, in batches of
``cutmix_batch_size``, each batch with one ``lam ~ Beta(1, 1)``, one box and
one permutation, applied to every batch. The mixed crops are rendered
exactly as the student's
:class:`~mmeff.condense.soft_labels.RelabelledDataset` will render them, and
labelled by the teacher. One file per epoch, ``epoch_<e>.pt``, holds

- ``boxes``: int16 ``[N, 4]`` crop boxes (8 bytes per image),
- ``flips``: bool ``[N]`` (1 byte per image),
- ``mix_partners``: int32 ``[N]``, the image whose crop fills the CutMix
  box (4 bytes per image; the image itself when it is not mixed),
- ``mix_boxes``: int16 ``[N, 4]``, that box in crop pixels (8 bytes),
- ``logits``: fp16 ``[N, C]`` teacher logits on the mixed crop (2C bytes),
- ``meta``: seed, epoch, image count, class count, crop size, the mix
  settings, a digest of the image list.

So an epoch costs ``N * (21 + 2C)`` bytes of arrays with CutMix, ``N * (9 +
2C)`` without (``mix=None``), plus the container's fixed overhead
(:func:`bytes_per_epoch`).
"""
import glob
import os
import os.path as osp
import time

import numpy as np
import torch
from PIL import Image

from mmeff.engine.outputs import OutputExistsError, atomic_output

from .crops import DEFAULT_RATIO, sample_crop_boxes, sample_flips
from .errors import CondenseError
from .mixing import draw_cutmix
from .presets import CUTMIX_ALPHA, CUTMIX_BATCH_SIZE, RELABEL_CROP_SCALE
from .soft_labels import FORMAT, RelabelledDataset, epoch_file
from .teacher import build_teacher, read_like_recovered_pngs

MIX_TYPES = (None, 'cutmix')


def bytes_per_epoch(num_images, num_classes, mix='cutmix'):
    """Array bytes of one epoch file: boxes + flips (+ CutMix) + logits."""
    per_image = 4 * 2 + 1 + 2 * num_classes
    if mix == 'cutmix':
        per_image += 4 + 4 * 2  # partner index + box
    return num_images * per_image


def draw_crops(seed, epoch, sizes, scale=RELABEL_CROP_SCALE,
               ratio=DEFAULT_RATIO):
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
            scale=RELABEL_CROP_SCALE, ratio=DEFAULT_RATIO, mix='cutmix',
            cutmix_alpha=CUTMIX_ALPHA, cutmix_batch_size=CUTMIX_BATCH_SIZE,
            batch_size=256, device='cpu', progress=True, overwrite=False):
    """Write ``epoch_0000.pt`` ... for ``epochs`` student epochs.

    Args:
        data_root, data_prefix: the condensed set (``recover``'s output
            folder and its ``train`` split).
        crop_size (int): student input side; default: the images' own side.
        seed (int): crops of epoch ``e`` come from ``(seed, e)``; the student
            dataset must name the same seed.
        scale, ratio: of the random-resized crops (the released 0.08-1,
            3/4-4/3).
        mix (str | None): ``'cutmix'`` (the released relabel.sh) or
            ``None`` for plain crops.
        cutmix_alpha (float): ``lam ~ Beta(alpha, alpha)``; released: 1.
        cutmix_batch_size (int): images sharing one CutMix box and
            permutation; the released relabel.sh uses 1,024, the batch size
            of its student, which must equal it.
        batch_size (int): teacher forward batch (does not change results).
        overwrite (bool): replace the epoch files ``out_dir`` already
            holds (all of them, so no file of the old set survives);
            without it such a folder is refused.

    Returns:
        dict: what was written (``epochs``, ``num_images``, ``num_classes``,
        ``bytes_per_epoch`` of arrays, ``file_bytes`` of the first file,
        ``seconds``).
    """
    _check_request(epochs, mix, cutmix_batch_size)
    old = _old_epoch_files(out_dir, overwrite)
    teacher = build_teacher(teacher_config, teacher_checkpoint, device)
    model, num_classes = teacher.model, teacher.num_classes
    # Recovered PNGs are true RGB and load as BGR: feed the teacher the
    # channel order it was trained on.
    read_like_recovered_pngs(model, teacher.channel_order)
    sizes = _image_sizes(data_root, data_prefix, num_classes)
    crop_size = int(sizes[0][0]) if crop_size is None else crop_size
    os.makedirs(out_dir, exist_ok=True)
    for path in old:  # epochs of the old set must not outlive it
        os.remove(path)
    meta = dict(format=FORMAT, seed=seed, num_images=len(sizes),
                num_classes=num_classes, crop_size=crop_size,
                scale=list(scale), ratio=list(ratio), mix=mix,
                cutmix_alpha=cutmix_alpha,
                cutmix_batch_size=cutmix_batch_size,
                teacher_config=teacher.config)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=epochs, desc='relabel', unit='epoch')
    start = time.perf_counter()
    for epoch in range(epochs):
        record = epoch_record(model, data_root, data_prefix, sizes,
                              dict(meta, epoch=epoch), batch_size, device)
        with atomic_output(epoch_file(out_dir, epoch)) as tmp:
            torch.save(record, tmp)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return dict(epochs=epochs, num_images=len(sizes),
                num_classes=num_classes, crop_size=crop_size, seed=seed,
                mix=mix, bytes_per_epoch=bytes_per_epoch(
                    len(sizes), num_classes, mix),
                file_bytes=osp.getsize(epoch_file(out_dir, 0)),
                seconds=time.perf_counter() - start)


def epoch_record(model, data_root, data_prefix, sizes, meta, batch_size=256,
                 device='cpu'):
    """Draw epoch ``meta['epoch']``'s augmentation and label it."""
    seed, epoch, n = meta['seed'], meta['epoch'], len(sizes)
    boxes, flips = draw_crops(seed, epoch, sizes, meta['scale'],
                              meta['ratio'])
    crops = dict(boxes=boxes, flips=flips)
    if meta['mix'] == 'cutmix':
        _, partners, mix_boxes = draw_cutmix(
            seed, epoch, n, meta['crop_size'], meta['cutmix_alpha'],
            meta['cutmix_batch_size'])
        crops.update(mix_partners=partners, mix_boxes=mix_boxes)
    dataset = RelabelledDataset(data_root=data_root, data_prefix=data_prefix,
                                crops=crops,
                                pipeline=crop_pipeline(meta['crop_size']))
    record = dict(meta=dict(meta, files_digest=dataset.digest),
                  boxes=torch.from_numpy(boxes.astype(np.int16)),
                  flips=torch.from_numpy(flips.astype(bool)),
                  logits=teacher_logits(model, dataset, batch_size,
                                        device).half())
    if meta['mix'] == 'cutmix':
        record['mix_partners'] = torch.from_numpy(partners.astype(np.int32))
        record['mix_boxes'] = torch.from_numpy(mix_boxes.astype(np.int16))
    return record


def _check_request(epochs, mix, cutmix_batch_size):
    if not isinstance(epochs, int) or epochs <= 0:
        raise CondenseError(
            f'epochs must be a positive integer, got {epochs!r}')
    if mix not in MIX_TYPES:
        raise CondenseError(f'mix must be one of {MIX_TYPES}, got {mix!r}')
    if not isinstance(cutmix_batch_size, int) or cutmix_batch_size <= 0:
        raise CondenseError('cutmix_batch_size must be a positive integer, '
                            f'got {cutmix_batch_size!r}')


def _old_epoch_files(out_dir, overwrite):
    """Epoch files already in ``out_dir``; refused unless ``overwrite``."""
    old = sorted(glob.glob(osp.join(glob.escape(out_dir), 'epoch_*.pt')))
    if old and not overwrite:
        raise OutputExistsError(
            f'{out_dir} already holds {len(old)} relabel files '
            f'({osp.basename(old[0])}, ...); pass --overwrite to replace '
            'them, or choose another folder')
    return old


def _image_sizes(data_root, data_prefix, num_classes):
    """``(h, w)`` of every image of the condensed set, in dataset order."""
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
        try:
            # load() decodes in full: a truncated PNG fails here, not later
            # inside a teacher batch.
            with Image.open(info['img_path']) as im:
                im.load()
                sizes.append((im.height, im.width))
        except (OSError, ValueError, SyntaxError) as err:
            raise CondenseError(
                f'{info["img_path"]}: not a readable image ({err}); rerun '
                'recover on its folder to redo damaged images') from None
    return sizes
