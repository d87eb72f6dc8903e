"""Iterate ESSL storage as MMPretrain batches.

:class:`ESSLLoader` wraps an FFCV ``Loader`` (threads running numba-compiled
decoders, no worker processes) and yields what MMPretrain data preprocessors
take from a torch DataLoader with ``default_collate``:
``dict(inputs=uint8 [B, 3, H, W] tensor, data_samples=[DataSample])``, each
sample carrying ``gt_label``. Batch transforms (``transforms.py``) then run on
the batch tensor.

Sharding follows MMEngine's ``DefaultSampler``: one permutation per epoch,
seeded by ``(seed, epoch)`` and identical on every rank, padded to a multiple
of the world size and dealt round-robin, so rank ``r`` reads
``perm[r::world_size]``; evaluation results gathered by MMEngine come back in
dataset order. ``set_epoch`` (called by ``DistSamplerSeedHook``) fixes the
epoch, so a resumed run replays the same order. The crop decoders' random
boxes are keyed by the same ``(seed, epoch)`` and the sample index, so a
resumed run also replays the same crops.
"""
import math
import time

import numpy as np
import torch

from .writer import read_sidecar


CONSUMER_STAGES = ('wait', 'copy', 'samples', 'transforms')


class _ShardedOrder:
    """Per-epoch seeded permutation, dealt round-robin to the ranks."""

    def __init__(self, num_samples, seed, shuffle, rank, world_size):
        self.num_samples = num_samples
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size

    def sample_order(self, epoch):
        n = self.num_samples
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(n)
        else:
            order = np.arange(n)
        total = math.ceil(n / self.world_size) * self.world_size
        if total > n:  # pad by wrapping, as torch's DistributedSampler
            order = np.resize(order, total)
        return order[self.rank:total:self.world_size].astype(np.uint64)


class _Failure:

    def __init__(self, error):
        self.error = error


def _epoch_iterator_class():
    from ffcv.loader.epoch_iterator import IS_CUDA, EpochIterator

    class _SafeEpochIterator(EpochIterator):
        """FFCV's epoch thread, but an error in it reaches the consumer.

        FFCV 1.0.2 lets an exception end its thread silently, leaving the
        training loop blocked on the batch queue forever.
        """

        def run(self):
            try:
                super().run()
            except BaseException as err:  # noqa: B902  re-raised below
                self.output_queue.put(_Failure(err))

        def __next__(self):
            result = self.output_queue.get()
            if isinstance(result, _Failure):
                self.close()
                raise RuntimeError(
                    f'ESSL loader failed reading {self.loader.reader._fname}: '
                    f'{result.error}') from result.error
            if result is None:
                self.close()
                raise StopIteration()
            slot, result = result
            if IS_CUDA:
                self.current_stream.wait_stream(self.cuda_streams[slot])
            return result

    return _SafeEpochIterator


def _label_samples(sample_type, labels):
    """One ``DataSample`` per label, each holding a 1-element int64
    ``gt_label`` as ``set_gt_label`` makes it, without its per-call
    conversion (a third of the cost)."""
    rows = torch.from_numpy(labels.reshape(-1, 1).astype(np.int64)).unbind(0)
    samples = []
    for row in rows:
        sample = sample_type()
        sample.set_field(row, 'gt_label', dtype=torch.Tensor)
        samples.append(sample)
    return samples


def _EpochIterator(loader, order):  # noqa: N802  class factory
    return _epoch_iterator_class()(loader, order)


class ESSLDatasetInfo:
    """What MMEngine loops read from ``dataloader.dataset``."""

    def __init__(self, path, meta):
        self.path = path
        self.meta = meta
        self.metainfo = dict(classes=tuple(meta['classes']))

    def __len__(self):
        return int(self.meta['num_samples'])


class _EpochSetter:
    """``loader.sampler``: the object ``DistSamplerSeedHook`` calls."""

    def __init__(self, loader):
        self._loader = loader

    def set_epoch(self, epoch):
        self._loader.set_epoch(epoch)


class ESSLLoader:
    """An ESSL file as an MMEngine train/val/test dataloader.

    Args:
        path (str): the ``.beton`` file (with its ``.meta.json`` sidecar).
        batch_size (int): images per batch on this rank.
        decoder (dict): ``dict(type='RandomResizedCrop', scale=224, ...)`` or
            ``dict(type='CenterCrop', scale=224, crop_ratio=224 / 256)``; see
            ``decoders.py``.
        batch_transforms (list[dict]): registered batch transforms.
        num_workers (int): decoding threads.
        shuffle (bool): reshuffle every epoch.
        drop_last (bool, optional): drop the last incomplete batch
            (default: ``shuffle``).
        seed (int): shuffling seed, the same on every rank.
        rank, world_size (int, optional): this shard (default: MMEngine's
            distributed state).
        os_cache (bool): read through the page cache (FFCV's ``os_cache``).
        batches_ahead (int): batches decoded ahead of the consumer.
    """

    def __init__(self, path, batch_size, decoder, batch_transforms=(),
                 num_workers=1, shuffle=True, drop_last=None, seed=0,
                 rank=None, world_size=None, os_cache=True, batches_ahead=2):
        from mmengine.dist import get_dist_info

        from .decoders import build_decoder  # imports FFCV via import_ffcv
        from .transforms import build_batch_transforms
        self.path = path
        self.dataset = ESSLDatasetInfo(path, read_sidecar(path))
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'{path}: batch_size must be a positive int, '
                             f'got {batch_size!r}')
        self.batch_size = batch_size
        self.decoder = build_decoder(decoder)
        # The decoder threads lay images out as torch's NCHW.
        self.decoder.channels_first = True
        self.batch_transforms = build_batch_transforms(batch_transforms)
        self.num_workers = max(1, int(num_workers))
        self.shuffle = bool(shuffle)
        self.drop_last = self.shuffle if drop_last is None else bool(drop_last)
        self.seed = int(seed)
        dist_rank, dist_world = get_dist_info()
        self.rank = dist_rank if rank is None else int(rank)
        self.world_size = dist_world if world_size is None else int(world_size)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f'rank {self.rank} outside world size '
                             f'{self.world_size}')
        self.os_cache = os_cache
        self.batches_ahead = batches_ahead
        self.epoch = 0
        # Seconds the consumer side spends per stage, summed over batches:
        # waiting for decoded batches, copying them out, packing the data
        # samples, batch transforms (what a profile of the loader reads).
        self.stage_seconds = dict.fromkeys(CONSUMER_STAGES, 0.0)
        self.sampler = _EpochSetter(self)
        self.order = _ShardedOrder(len(self.dataset), self.seed, self.shuffle,
                                   self.rank, self.world_size)
        self._ffcv = None

    # Epoch and resolution control --------------------------------------
    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    @property
    def output_size(self):
        return self.decoder.output_size

    def set_output_size(self, size):
        """Change the decoded size; takes effect at the next ``iter()``."""
        from .decoders import _pair
        size = _pair(size, 'output size')
        if size != self.decoder.output_size:
            self.decoder.output_size = size
            self._ffcv = None  # the pipeline is recompiled for the new shape

    def set_randaugment_magnitude(self, magnitude):
        """Set every BatchRandAugment's magnitude (0-10); returns how many."""
        from .transforms import BatchRandAugment
        found = 0
        for transform in self.batch_transforms:
            if isinstance(transform, BatchRandAugment):
                transform.magnitude = float(magnitude)
                found += 1
        return found

    # Iteration ----------------------------------------------------------
    def __len__(self):
        per_rank = math.ceil(len(self.dataset) / self.world_size)
        if self.drop_last:
            return per_rank // self.batch_size
        return math.ceil(per_rank / self.batch_size)

    def _build(self):
        from ffcv.fields.basics import IntDecoder
        from ffcv.loader import Loader, OrderOption

        from . import field  # noqa: F401  registers the field type
        # FFCV sets torch's intra-op threads to its worker count; the model
        # should keep the process's setting.
        threads = torch.get_num_threads()
        try:
            loader = Loader(self.path, batch_size=self.batch_size,
                            num_workers=self.num_workers,
                            order=OrderOption.SEQUENTIAL,
                            drop_last=self.drop_last, os_cache=self.os_cache,
                            batches_ahead=self.batches_ahead,
                            pipelines=dict(image=[self.decoder],
                                           label=[IntDecoder()]))
        finally:
            torch.set_num_threads(threads)
        loader.traversal_order = self.order
        loader.first_traversal_order = self.order.sample_order(0)
        return loader

    def __iter__(self):
        from ffcv.pipeline.compiler import Compiler
        if self._ffcv is None:
            self._ffcv = self._build()
        loader = self._ffcv
        order = self.order.sample_order(self.epoch)
        self.decoder.set_rng(self.seed, self.epoch)
        self.epoch += 1
        loader.next_epoch = self.epoch
        threads = torch.get_num_threads()
        try:
            # FFCV's Loader.__iter__, with an iterator that reports errors.
            Compiler.set_num_threads(loader.num_workers)
            iterator = _EpochIterator(loader, order[:len(self) *
                                                    self.batch_size])
        finally:
            torch.set_num_threads(threads)
        return self._batches(iterator)

    def _raise_for_damaged_record(self):
        record = self.decoder.failed_record
        if record is not None:
            self.decoder.failure[:] = 0
            raise RuntimeError(
                f'{self.path}: record {record} is damaged (its JPEG data or '
                'restart markers do not decode); rewrite the file from the '
                'source images') from None

    def _batches(self, iterator):
        from mmpretrain.structures import DataSample
        clock, spent = time.perf_counter, self.stage_seconds
        try:
            while True:
                start = clock()
                try:
                    images, labels = next(iterator)
                except StopIteration:
                    return
                except RuntimeError:
                    self._raise_for_damaged_record()
                    raise
                got = clock()
                # FFCV reuses its buffers: copy out (already NCHW).
                inputs = torch.from_numpy(images.copy())
                copied = clock()
                samples = _label_samples(DataSample, labels)
                packed = clock()
                batch = dict(inputs=inputs, data_samples=samples)
                for transform in self.batch_transforms:
                    batch = transform(batch)
                done = clock()
                spent['wait'] += got - start
                spent['copy'] += copied - got
                spent['samples'] += packed - copied
                spent['transforms'] += done - packed
                yield batch
        finally:
            # Stops FFCV's decode thread when a consumer leaves early.
            iterator.close()


def build_essl_loader(cfg, seed=None):
    """Build :class:`ESSLLoader` from a config dict (``type='ESSLLoader'``).

    Keys that only mean something to a torch DataLoader
    (``persistent_workers``, ``pin_memory``, ``collate_fn``) are dropped; a
    ``sampler`` contributes its ``shuffle``/``seed``; a ``dataset`` is an
    error because ESSL storage replaces the dataset and its pipeline.
    """
    cfg = dict(cfg)
    cfg.pop('type', None)
    if 'dataset' in cfg:
        raise ValueError(
            "an ESSLLoader config takes 'path' and 'decoder', not 'dataset' "
            "(use _delete_=True when overriding an inherited dataloader)")
    for key in ('persistent_workers', 'pin_memory', 'collate_fn'):
        cfg.pop(key, None)
    sampler = cfg.pop('sampler', None) or {}
    cfg.setdefault('shuffle', sampler.get('shuffle', True))
    if cfg.get('seed') is None:
        cfg['seed'] = sampler.get('seed') if sampler.get('seed') is not None \
            else seed
    if cfg['seed'] is None:
        from mmengine.dist import sync_random_seed
        cfg['seed'] = sync_random_seed()
    return ESSLLoader(**cfg)
