"""The student side of relabel: replay stored crops with their soft labels.

SRe2L (Yin, Xing, Shen, NeurIPS 2023), step 3, follows FKD: the teacher
labels, once and offline, the exact random crops the student will train on,
so student training never runs the teacher. Per epoch ``e`` a file
``epoch_<e>.pt`` (written by :func:`mmeff.condense.relabel.relabel`) holds,
for every image of the condensed set, its crop box, flip, CutMix partner and
box, and the teacher's fp16 logits on the mixed crop.
:class:`RelabelledDataset` replays them; :class:`ReplayCrop` applies a
stored crop; :class:`RelabelEpochHook` tells the dataset which
epoch is running; :class:`RelabelSampler` (optional) forms the student's
batches from relabel's CutMix batches, as the released student does;
:class:`SoftLabelKLLoss` (in ``losses``) trains on the logits.
"""
import hashlib
import os.path as osp

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.hooks import Hook
from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATA_SAMPLERS, DATASETS, HOOKS, TRANSFORMS

from .errors import CondenseError
from .mixing import draw_cutmix

FORMAT = 'mmeff-sre2l-relabel-v1'


def epoch_file(relabel_dir, epoch):
    return osp.join(relabel_dir, f'epoch_{epoch:04d}.pt')


def files_digest(data_list, root):
    """Digest of the dataset's (relative path, label) list, in order."""
    h = hashlib.sha1()
    for info in data_list:
        rel = osp.relpath(info['img_path'], root)
        h.update(f'{rel}\t{info.get("gt_label", -1)}\n'.encode())
    return h.hexdigest()


@TRANSFORMS.register_module()
class ReplayCrop(BaseTransform):
    """Crop ``results['crop_box']``, resize to ``scale``, flip if asked.

    The replayed form of a random-resized crop + horizontal flip: the box
    ``(x0, y0, x1, y1)`` (end exclusive) and ``results['crop_flip']`` come
    from the relabel file, not from a random draw. Resizing uses mmcv
    (bilinear), like MMPretrain's ``RandomResizedCrop`` with the cv2 backend.

    Args:
        scale (int): output side in pixels.
    """

    def __init__(self, scale, interpolation='bilinear'):
        self.scale = int(scale)
        self.interpolation = interpolation

    def transform(self, results):
        x0, y0, x1, y1 = (int(v) for v in results['crop_box'])
        img = results['img']
        h, w = img.shape[:2]
        if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
            raise CondenseError(
                f'{results.get("img_path")}: stored crop {(x0, y0, x1, y1)} '
                f'lies outside the {w}x{h} image; relabel again')
        img = mmcv.imresize(img[y0:y1, x0:x1], (self.scale, self.scale),
                            interpolation=self.interpolation)
        if results['crop_flip']:
            img = np.ascontiguousarray(img[:, ::-1])
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(scale={self.scale})'


@DATASETS.register_module()
class RelabelledDataset(CustomDataset):
    """A class-folder data set served with stored crops and soft labels.

    An ordinary ``CustomDataset`` (so ``data_root``/``data_prefix`` point at
    the recovered ``train`` folder) whose samples also carry, for the
    current epoch, ``crop_box``/``crop_flip`` (consumed by
    :class:`ReplayCrop`) and ``gt_score`` = the teacher's logits on that
    crop (consumed by :class:`~mmeff.condense.losses.SoftLabelKLLoss`
    through MMPretrain's ``ClsHead``). When the epoch stores CutMix, the
    partner image is rendered through the same pipeline up to
    :class:`ReplayCrop` and its stored box pasted in, so the student sees,
    pixel for pixel, the mixed crop the teacher labelled, whatever batches
    its sampler forms.

    Args:
        relabel_dir (str): folder of ``epoch_<e>.pt`` files.
        seed (int): the seed the files must have been made with; a file
            made with another seed, for another image list or another number
            of classes is refused.
        crops (dict): instead of ``relabel_dir``, in-memory ``boxes`` and
            ``flips`` (and optionally ``mix_partners``, ``mix_boxes``) to
            serve (how relabel itself renders the crops, so the teacher and
            the student see identical pixels).
    """

    def __init__(self, *args, relabel_dir=None, seed=0, crops=None, **kwargs):
        if (relabel_dir is None) == (crops is None):
            raise CondenseError('RelabelledDataset needs exactly one of '
                                'relabel_dir and crops')
        root = kwargs.get('data_root') or ''
        prefix = kwargs.get('data_prefix') or ''
        folder = osp.join(root, prefix if isinstance(prefix, str)
                          else prefix.get('img_path', ''))
        if not osp.isdir(folder):
            raise CondenseError(f'condensed data folder not found: {folder}')
        super().__init__(*args, **kwargs)
        self.relabel_dir = relabel_dir
        self.seed = seed
        self.digest = files_digest(self.infos(), self.img_prefix)
        self._epoch = None
        self._record = None
        if crops is not None:
            self._record = {k: torch.as_tensor(v) for k, v in crops.items()}
            self._record['logits'] = None
            self._epoch = -1
        else:
            if not osp.isdir(relabel_dir):
                raise CondenseError(f'relabel folder not found: {relabel_dir}')
            self.check_record(epoch_file(relabel_dir, 0))  # fail at build

    def infos(self):
        """Every sample's info dict, in order (``data_list`` is serialised)."""
        return [self.get_data_info(i) for i in range(len(self))]

    @property
    def num_epochs(self):
        n = 0
        while osp.isfile(epoch_file(self.relabel_dir, n)):
            n += 1
        return n

    def check_record(self, path):
        """Load a relabel file and refuse it if it does not fit this set."""
        if not osp.isfile(path):
            raise CondenseError(
                f'{path}: missing; {self.relabel_dir} holds soft labels for '
                f'{self.num_epochs} epochs, relabel for as many epochs as '
                'the student trains')
        try:
            record = torch.load(path, map_location='cpu', weights_only=True)
            meta = record['meta']
        except Exception as err:
            raise CondenseError(f'{path}: not a relabel file ({err})') from err
        if meta.get('format') != FORMAT:
            raise CondenseError(f'{path}: not a relabel file '
                                f'(format {meta.get("format")!r})')
        checks = (('seed', self.seed, 'seed'),
                  ('num_images', len(self), 'image count'),
                  ('num_classes', len(self.CLASSES), 'class count'))
        for key, want, what in checks:
            if meta[key] != want:
                raise CondenseError(
                    f'{path}: {what} {meta[key]} does not match the '
                    f'dataset\'s {want} ({self.img_prefix}); relabel this '
                    'data set with the same seed')
        if meta['files_digest'] != self.digest:
            raise CondenseError(
                f'{path}: made for another image list than {self.img_prefix}'
                '; relabel this data set')
        self._check_pipeline_size(path, meta['crop_size'])
        return record

    def _check_pipeline_size(self, path, size):
        for t in getattr(self.pipeline, 'transforms', []):
            if isinstance(t, ReplayCrop) and t.scale != size:
                raise CondenseError(
                    f'{path}: logits are of {size}px crops but the '
                    f'pipeline\'s ReplayCrop makes {t.scale}px crops')

    def set_epoch(self, epoch):
        """Serve the crops and soft labels stored for ``epoch`` (0-based)."""
        if self.relabel_dir is None or epoch == self._epoch:
            return
        record = self.check_record(epoch_file(self.relabel_dir, epoch))
        if record['meta']['epoch'] != epoch:
            raise CondenseError(f'{epoch_file(self.relabel_dir, epoch)}: '
                                f'holds epoch {record["meta"]["epoch"]}')
        self._record, self._epoch = record, epoch

    def prepare_data(self, idx):
        if self._record is None:
            raise CondenseError(
                'RelabelledDataset: no epoch selected; add '
                "dict(type='RelabelEpochHook') to custom_hooks")
        partners = self._record.get('mix_partners')
        if partners is None:
            return self.pipeline(self._sample(idx))
        return self._mixed(idx, int(partners[idx]))

    def _sample(self, idx):
        info = self.get_data_info(idx)
        info['crop_box'] = self._record['boxes'][idx].tolist()
        info['crop_flip'] = bool(self._record['flips'][idx])
        if self._record['logits'] is not None:
            info['gt_score'] = self._record['logits'][idx].float()
        return info

    def _mixed(self, idx, partner):
        """Image ``idx``'s crop with ``partner``'s crop inside its CutMix
        box, then the rest of the pipeline."""
        transforms = list(getattr(self.pipeline, 'transforms', []))
        cut = [i for i, t in enumerate(transforms)
               if isinstance(t, ReplayCrop)]
        if not cut:
            raise CondenseError(
                'RelabelledDataset: the relabel files store CutMix, which '
                'needs a ReplayCrop in the pipeline')
        head, tail = transforms[:cut[0] + 1], transforms[cut[0] + 1:]
        results = _run(head, self._sample(idx))
        if partner != idx:
            x0, y0, x1, y1 = self._record['mix_boxes'][idx].tolist()
            other = _run(head, self._sample(partner))['img']
            img = results['img'].copy()
            img[y0:y1, x0:x1] = other[y0:y1, x0:x1]
            results['img'] = img
        return _run(tail, results)


def _run(transforms, results):
    for t in transforms:
        results = t(results)
    return results


def _find_relabelled(dataset):
    while dataset is not None:
        if isinstance(dataset, RelabelledDataset):
            return dataset
        dataset = getattr(dataset, 'dataset', None)
    return None


@DATA_SAMPLERS.register_module()
class RelabelSampler:
    """Serve each epoch's images in relabel's CutMix order.

    The released student (VILA-Lab/SRe2L, ``SRe2L/validate/train_FKD.py``)
    loads relabel's batches as they were mixed: same sampler seed, same
    batch size. With this sampler and a train batch size equal to relabel's
    ``cutmix_batch_size``, every student batch is one CutMix batch (the
    order is redrawn from the file's seed and epoch, as relabel drew it).
    Without it (MMEngine's ``DefaultSampler``) each image is still served
    exactly as labelled, in batches of the sampler's making. One process
    only.

    Args:
        dataset: the train set, a :class:`RelabelledDataset` (or a wrapper
            of one).
        seed: passed by MMEngine's Runner; unused, the order comes from
            the relabel file's seed.
    """

    def __init__(self, dataset, seed=None):
        from mmengine.dist import get_world_size
        if get_world_size() > 1:
            raise CondenseError('RelabelSampler replays one process\'s '
                                'batches; use DefaultSampler to train on '
                                'several processes')
        self.dataset = _find_relabelled(dataset)
        if self.dataset is None:
            raise CondenseError('RelabelSampler: the train set is not a '
                                'RelabelledDataset')

    def __iter__(self):
        data = self.dataset
        if data._record is None or data._epoch is None or data._epoch < 0:
            raise CondenseError(
                'RelabelSampler: no epoch selected; add '
                "dict(type='RelabelEpochHook') to custom_hooks")
        meta = data._record['meta']
        if meta.get('mix') != 'cutmix':
            raise CondenseError(
                f'{epoch_file(data.relabel_dir, data._epoch)}: stores no '
                'CutMix batches to replay; use DefaultSampler')
        order, _, _ = draw_cutmix(meta['seed'], meta['epoch'], len(data),
                                  meta['crop_size'], meta['cutmix_alpha'],
                                  meta['cutmix_batch_size'])
        return iter(order.tolist())

    def __len__(self):
        return len(self.dataset)

    def set_epoch(self, epoch):
        """The epoch's order comes from the dataset's current file."""


@HOOKS.register_module()
class RelabelEpochHook(Hook):
    """Point the train set's :class:`RelabelledDataset` at the running epoch.

    Runs before the epoch's data iterator is made; persistent workers are
    restarted so they pick the new epoch's crops up.
    """

    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner):
        from mmeff.engine.hooks.pipeline_control import restart_workers
        loader = runner.train_dataloader
        dataset = _find_relabelled(loader.dataset)
        if dataset is None:
            raise CondenseError('RelabelEpochHook: the train set is not a '
                                'RelabelledDataset')
        dataset.set_epoch(runner.epoch)
        restart_workers(loader)
