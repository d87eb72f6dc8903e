"""A squeezed teacher: its model and what recover and relabel read from it.

:func:`build_teacher` loads the model once and reads, once, everything the
SRe2L steps need from it and its config (classes, normalisation, channel
order, training folder and crop size) into a :class:`Teacher` record.
"""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Optional

import torch

from mmeff.data.checks import IMAGE_EXTENSIONS
from mmeff.engine.config import load_config

from .errors import CondenseError


def load_teacher(config, checkpoint, device='cpu'):
    """The teacher classifier in eval mode, and its config.

    A bad checkpoint file fails first with one line naming it; MMEngine's
    ``load_checkpoint`` then reads it (``weights_only``, with MMEngine's
    types allow-listed by ``import mmeff``).
    """
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS

    import mmeff  # noqa: F401  registers components and the allow-list
    from mmeff.engine.checkpoint import check_checkpoint

    cfg = load_config(config)
    model_cfg = cfg.model.copy()
    # MMEngine's Runner fills the model's preprocessor from a top-level
    # `data_preprocessor` (MMPretrain's dataset configs set it there).
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        check_checkpoint(checkpoint)
        _check_weights_fit(model, checkpoint, config)
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                        logger='silent')
    return model.to(device).eval(), cfg


def _check_weights_fit(model, checkpoint, config):
    """One line, instead of torch's list of every key, when ``checkpoint``
    holds another model's weights."""
    from mmeff.engine.checkpoint import load_local_checkpoint
    saved = load_local_checkpoint(checkpoint, map_location='cpu', mmap=True)
    saved = saved.get('state_dict', saved) if isinstance(saved, dict) else {}
    ours = model.state_dict()
    differ = sorted(k for k in set(ours) | set(saved)
                    if k not in ours or k not in saved or
                    tuple(ours[k].shape) != tuple(saved[k].shape))
    if differ:
        raise CondenseError(
            f'{checkpoint}: not weights of the model {config} builds '
            f'({len(differ)} of {len(set(ours) | set(saved))} names or '
            f'shapes differ, first: {differ[0]}); pass the checkpoint the '
            'teacher was squeezed with')


@dataclass(frozen=True)
class Teacher:
    """A teacher in eval mode and the facts about it recover and relabel use.

    ``mean`` / ``std`` are ``[1, C, 1, 1]`` on the 0-255 scale;
    ``channel_order`` is what its network sees (``'RGB'`` or ``'BGR'``);
    ``train_folder`` and ``train_crop_size`` come from its config's train
    split and pipeline, ``None`` where the config does not tell.
    """
    model: torch.nn.Module
    config: str
    checkpoint: Optional[str]
    num_classes: int
    mean: torch.Tensor
    std: torch.Tensor
    channel_order: str
    train_folder: Optional[str]
    train_crop_size: Optional[int]

    def require_train_folder(self):
        if not self.train_folder:
            raise CondenseError(f'{self.config}: no train data folder to take '
                                'class names from; pass classes_from')
        return self.train_folder

    def require_train_crop_size(self):
        if not isinstance(self.train_crop_size, int):
            raise CondenseError(f'{self.config}: cannot read the training '
                                'crop size from the train pipeline; pass '
                                'image_size')
        return self.train_crop_size


def build_teacher(config, checkpoint, device='cpu'):
    """Load the teacher of ``config`` / ``checkpoint`` and read its facts."""
    model, cfg = load_teacher(config, checkpoint, device)
    mean, std = _normalisation_of(model)
    train = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    pipeline = train.get('pipeline') or []
    return Teacher(
        model=model, config=osp.abspath(config),
        checkpoint=None if checkpoint is None else osp.abspath(checkpoint),
        num_classes=_num_classes_of(model, config), mean=mean, std=std,
        channel_order=_channel_order(model, pipeline),
        train_folder=_train_folder(train),
        train_crop_size=_train_crop_size(pipeline))


def _num_classes_of(model, name='the teacher'):
    head = getattr(model, 'head', None)
    n = getattr(head, 'num_classes', None)
    if not n:
        raise CondenseError(f'{name}: cannot tell the number of classes '
                            '(expected an ImageClassifier with a ClsHead)')
    return int(n)


def _normalisation_of(model):
    """``(mean, std)`` the teacher's data preprocessor applies.

    Shapes ``[1, C, 1, 1]``, on the 0-255 scale; identity when the
    preprocessor does not normalise.
    """
    pre = model.data_preprocessor
    mean = getattr(pre, 'mean', None)
    std = getattr(pre, 'std', None)
    if mean is None or not getattr(pre, '_enable_normalize', True):
        mean, std = torch.zeros(3, 1, 1), torch.ones(3, 1, 1)
    return (mean.detach().float().cpu().reshape(1, -1, 1, 1),
            std.detach().float().cpu().reshape(1, -1, 1, 1))


def _pipeline_classes(pipeline):
    """``[(transform class or None, its config)]`` of a pipeline's dicts,
    each type resolved through MMPretrain's transform registry, so scoped
    names and subclasses count as what they are."""
    from mmpretrain.registry import TRANSFORMS
    steps = []
    for t in pipeline:
        kind = t.get('type')
        cls = kind if isinstance(kind, type) else (
            TRANSFORMS.get(kind) if isinstance(kind, str) else None)
        steps.append((cls, t))
    return steps


def _channel_order(model, pipeline):
    """``'RGB'`` or ``'BGR'``: the channel order the teacher's network sees.

    ``LoadImageFromFile`` yields BGR and the preprocessor's ``to_rgb`` flips
    it; in-memory data sets (MMPretrain's CIFAR10, MNIST) yield RGB, which
    ``to_rgb`` would flip to BGR. The config's pipeline is read, not run:
    running it would need the training data.
    """
    from mmcv.transforms import LoadImageFromFile
    from_files = any(cls is not None and issubclass(cls, LoadImageFromFile)
                     for cls, _ in _pipeline_classes(pipeline))
    to_rgb = bool(getattr(model.data_preprocessor, 'to_rgb', False))
    return 'RGB' if to_rgb == from_files else 'BGR'


def _train_folder(dataset):
    root = dataset.get('data_root') or ''
    prefix = dataset.get('data_prefix') or ''
    if isinstance(prefix, dict):
        prefix = prefix.get('img_path', '')
    return osp.join(root, prefix) or None


def _train_crop_size(pipeline):
    """Side of the teacher's training crops: the last crop or resize of its
    train pipeline."""
    from mmcv.transforms import CenterCrop, Resize
    from mmpretrain.datasets.transforms import RandomCrop, RandomResizedCrop
    sizing = (RandomResizedCrop, RandomCrop, CenterCrop, Resize)
    size = None
    for cls, t in _pipeline_classes(pipeline):
        if cls is None or not issubclass(cls, sizing):
            continue
        for key in ('scale', 'crop_size', 'size'):
            if key in t:
                size = t[key]
    if isinstance(size, (list, tuple)):
        size = size[0]
    return size


def read_like_recovered_pngs(model, order):
    """Make the teacher's preprocessor read PNGs (BGR loads) in ``order``."""
    model.data_preprocessor.to_rgb = order == 'RGB'


def class_folders(folder, num_classes=None, what='class folder'):
    """Sorted class-folder names of an ImageNet-style ``folder``.

    MMPretrain's ``CustomDataset`` indexes classes by sorted folder name, so
    this order is the label order.
    """
    if not osp.isdir(folder):
        raise CondenseError(f'{what} not found: {folder}')
    names = sorted(d for d in os.listdir(folder)
                   if osp.isdir(osp.join(folder, d)))
    if not names:
        raise CondenseError(f'{folder}: no class folders (expected '
                            '<folder>/<class>/<image>)')
    if num_classes is not None and len(names) != num_classes:
        raise CondenseError(
            f'{folder}: {len(names)} class folders, but the teacher has '
            f'{num_classes} classes')
    return names


def list_images(folder, classes):
    """``[(path, label)]`` of every image under ``folder/<class>/``, sorted."""
    items = []
    for label, name in enumerate(classes):
        sub = osp.join(folder, name)
        if not osp.isdir(sub):
            raise CondenseError(f'class folder missing: {sub}')
        files = sorted(f for f in os.listdir(sub)
                       if f.lower().endswith(IMAGE_EXTENSIONS))
        if not files:
            raise CondenseError(f'class folder has no images: {sub}')
        items += [(osp.join(sub, f), label) for f in files]
    return items
