"""Iterate ESSL storage as MMPretrain batches.

:class:`ESSLLoader` reads an FFCV-format ESSL file through a memory map and
decodes each batch with the crop decoders' compiled batch kernel
(``decoders.batch_kernel``: numba threads, one image each, the GIL released)
on a producer thread, ``batches_ahead`` batches ahead of the consumer. Each
batch is decoded straight into a tensor of its own, so nothing is copied and
no later batch overwrites it. It yields what MMPretrain data preprocessors
take from a torch DataLoader with ``default_collate``:
``dict(inputs=uint8 [B, 3, H, W] tensor, data_samples=[DataSample])``, each
sample carrying ``gt_label``. Batch transforms (``transforms.py``) then run on
the batch tensor. FFCV's own ``Loader`` is not used: this needs no
compilation per output size and no copy out of reused buffers.

Sharding follows MMEngine's ``DefaultSampler``: one permutation per epoch,
seeded by ``(seed, epoch)`` and identical on every rank, padded to a multiple
of the world size and dealt round-robin, so rank ``r`` reads
``perm[r::world_size]``; evaluation results gathered by MMEngine come back in
dataset order. ``set_epoch`` (called by ``DistSamplerSeedHook``) fixes the
epoch, so a resumed run replays the same order. The crop decoders' random
boxes are keyed by the same ``(seed, epoch)`` and the sample index, so a
resumed run also replays the same crops.

Integrity: the file is checked against its sidecar when the loader is made
(``reader.open_essl``), and with ``verify=True`` every record's CRC-32 is
checked on the producer thread before it is decoded. A record that fails
its checksum or does not decode stops training with
:class:`CorruptRecordError` naming the file and record, or, with
``skip_corrupt=True``, is replaced by the next intact record; the number
replaced is logged at the end of each epoch.
"""
import math
import queue
import threading
import time

import numpy as np
import torch

from ..checks import DatasetError
from .reader import CorruptRecordError, ESSLFileError, ESSLRecords, record_is_intact

CONSUMER_STAGES = ('wait', 'samples', 'transforms')


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
        os_cache (bool): records are read through the page cache (a memory
            map); only ``True`` is accepted.
        batches_ahead (int): batches decoded ahead of the consumer.
        verify (bool): check each record's CRC-32 before decoding it.
        skip_corrupt (bool): replace a corrupt record by the next intact one
            (counted, logged each epoch) instead of raising
            :class:`CorruptRecordError`.
    """

    def __init__(self, path, batch_size, decoder, batch_transforms=(),
                 num_workers=1, shuffle=True, drop_last=None, seed=0,
                 rank=None, world_size=None, os_cache=True, batches_ahead=2,
                 verify=True, skip_corrupt=False):
        from mmengine.dist import get_dist_info

        from .decoders import build_decoder
        from .transforms import build_batch_transforms
        self.path = path
        self._file = ESSLRecords(path)  # checked against its sidecar
        self.dataset = ESSLDatasetInfo(path, self._file.meta)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'{path}: batch_size must be a positive int, '
                             f'got {batch_size!r}')
        self.batch_size = batch_size
        self.decoder = build_decoder(decoder)
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
        if not os_cache:
            raise ValueError(f'{path}: os_cache=False is not supported; ESSL '
                             'files are read through the page cache')
        self.batches_ahead = max(1, int(batches_ahead))
        self.verify, self.skip_corrupt = bool(verify), bool(skip_corrupt)
        self._check_has_a_batch()
        # Records found corrupt (kept across epochs) and how many reads
        # were replaced in the current epoch.
        self.corrupt, self.replaced = set(), 0
        self.epoch = 0
        # Seconds the consumer side spends per stage, summed over batches:
        # waiting for decoded batches, packing the data samples, batch
        # transforms (what a profile of the loader reads).
        self.stage_seconds = dict.fromkeys(CONSUMER_STAGES, 0.0)
        self.sampler = _EpochSetter(self)
        self.order = _ShardedOrder(len(self.dataset), self.seed, self.shuffle,
                                   self.rank, self.world_size)
        self._records = None

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
        # The batch kernel takes the size as an argument: nothing recompiles.
        self.decoder.output_size = size

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

    def _check_has_a_batch(self):
        per_rank = math.ceil(len(self.dataset) / self.world_size)
        if len(self) == 0:
            raise DatasetError(
                f'{self.path}: batch_size={self.batch_size} is larger than '
                f'the {per_rank} images per rank ({len(self.dataset)} '
                f'records, world size {self.world_size}) and '
                f'drop_last={self.drop_last} leaves no batch; lower '
                'batch_size or set drop_last=False')

    def _threads(self):
        import numba
        return min(self.num_workers, numba.config.NUMBA_NUM_THREADS)

    def _table(self):
        """The file's record table and memory map, read once; one decode
        window per thread (not per image: a batch of 512 over a file with
        one 6000x4000 photo would ask for 34 GiB)."""
        if self._records is None:
            from ._lib import guard_mapping
            table = self._file.table()
            table['file'] = np.memmap(self.path, np.uint8, mode='r')
            guard_mapping(table['file'], self.path)
            largest = int((table['heights'].astype(np.int64) *
                           table['widths']).max()) * 3
            table['scratch'] = np.empty((self._threads(), largest), np.uint8)
            self._records = table
        return self._records

    def decode_into(self, samples, epoch, out, status):
        """Decode records ``samples`` (int64) with epoch ``epoch``'s boxes
        into ``out`` (``[n, 3, H, W]`` uint8) on ``num_workers`` threads;
        ``status[j]`` gets each image's decoder status (0: ok)."""
        import numba

        from .decoders import batch_kernel, kernel_args
        t = self._table()
        a0, a1, a2, a3, a4, interp, flags = kernel_args(self.decoder)
        numba.set_num_threads(self._threads())
        batch_kernel(self.decoder)(
            t['file'].ctypes.data, t['ptrs'], t['sizes'], t['modes'],
            t['heights'], t['widths'], samples, np.uint64(self.seed % 2**64),
            np.uint64(epoch), a0, a1, a2, a3, a4, out, t['scratch'], status,
            interp, flags)

    def __iter__(self):
        order = self.order.sample_order(self.epoch)
        order = order[:len(self) * self.batch_size].astype(np.int64)
        producer = _BatchProducer(self, order, self.epoch)
        self.replaced = 0
        self.epoch += 1
        return self._batches(producer)

    def _is_intact(self, record):
        t = self._table()
        return record_is_intact(t, t['file'], record)

    def _mark_corrupt(self, record, why):
        """Remember ``record`` as corrupt; its replacement, or raise."""
        if not self.skip_corrupt:
            raise CorruptRecordError(self.path, int(record), why)
        self.corrupt.add(int(record))
        self.replaced += 1
        n = len(self.dataset)
        for step in range(1, n):
            other = (int(record) + step) % n
            if other not in self.corrupt and (not self.verify or
                                              self._is_intact(other)):
                return other
            self.corrupt.add(other)
        raise CorruptRecordError(self.path, int(record),
                                 'and no intact record is left')

    def checked(self, samples):
        """``samples`` with each corrupt record replaced (or raise)."""
        samples = samples.copy()
        if not self.verify and not self.corrupt:
            return samples  # nothing to check or replace
        for j, record in enumerate(samples.tolist()):
            if record in self.corrupt or (self.verify and
                                          not self._is_intact(record)):
                samples[j] = self._mark_corrupt(record, 'checksum mismatch')
        return samples

    def decode_checked(self, samples, epoch, out):
        """:meth:`decode_into` with corrupt records replaced; the records
        decoded (after replacement)."""
        from .decoders import NO_SCRATCH
        samples = self.checked(samples)
        status = np.zeros(len(samples), np.int32)
        self.decode_into(samples, epoch, out, status)
        if (status == NO_SCRATCH).any():  # not the data's fault
            raise RuntimeError(f'{self.path}: a decode thread had no scratch '
                               'window (more numba threads than expected)')
        bad = np.flatnonzero(status)
        while len(bad):
            for j in bad:
                samples[j] = self._mark_corrupt(samples[j], 'does not decode')
            status = np.zeros(len(bad), np.int32)
            redo = np.empty((len(bad), *out.shape[1:]), out.dtype)
            self.decode_into(samples[bad], epoch, redo, status)
            out[bad] = redo
            bad = bad[np.flatnonzero(status)]
        return samples

    def _report_replaced(self):
        if self.replaced:
            from mmengine.logging import MMLogger
            MMLogger.get_current_instance().warning(
                f'{self.path}: {self.replaced} read(s) of corrupt records '
                f'replaced by intact ones this epoch (records '
                f'{sorted(self.corrupt)}); essl_verify.py lists them')

    def _batches(self, producer):
        from mmpretrain.structures import DataSample
        clock, spent = time.perf_counter, self.stage_seconds
        producer.start()
        try:
            while True:
                start = clock()
                item = producer.batches.get()
                if item is None:
                    self._report_replaced()
                    return
                if isinstance(item, ESSLFileError):
                    raise item
                if isinstance(item, BaseException):
                    raise RuntimeError(f'ESSL loader failed reading '
                                       f'{self.path}: {item}') from item
                inputs, labels = item
                got = clock()
                samples = _label_samples(DataSample, labels)
                packed = clock()
                batch = dict(inputs=inputs, data_samples=samples)
                for transform in self.batch_transforms:
                    batch = transform(batch)
                done = clock()
                spent['wait'] += got - start
                spent['samples'] += packed - got
                spent['transforms'] += done - packed
                yield batch
        finally:
            # Stops the producer when a consumer leaves early.
            producer.stop()


class _BatchProducer(threading.Thread):
    """Decodes one epoch's batches into ``batches`` (a bounded queue):
    ``(inputs, labels)`` per batch, then ``None``; an exception is put in
    place of a batch."""

    def __init__(self, loader, order, epoch):
        super().__init__(daemon=True)
        self.loader, self.order, self.epoch = loader, order, epoch
        self.batches = queue.Queue(loader.batches_ahead)
        self._stopped = threading.Event()

    def stop(self):
        self._stopped.set()
        while self.is_alive():  # unblock a put on a full queue
            try:
                self.batches.get(timeout=0.05)
            except queue.Empty:
                pass
        self.join()

    def _put(self, item):
        while not self._stopped.is_set():
            try:
                self.batches.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def run(self):
        try:
            self._decode_all()
        except BaseException as err:  # noqa: B902  reaches the consumer
            self._put(err)

    def _decode_all(self):
        loader = self.loader
        out_h, out_w = loader.decoder.output_size
        labels = loader._table()['labels']
        for start in range(0, len(self.order), loader.batch_size):
            samples = self.order[start:start + loader.batch_size]
            inputs = torch.empty((len(samples), 3, out_h, out_w),
                                 dtype=torch.uint8)
            samples = loader.decode_checked(samples, self.epoch,
                                            inputs.numpy())
            if not self._put((inputs, labels[samples])):
                return
        self._put(None)


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
