"""ESSLLoader: MMPretrain batches, shards, seeded order, resolution changes."""
import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from mmeff.data.essl import ESSLLoader, build_essl_loader
from mmeff.data.essl.loader import _ShardedOrder
from mmeff.data.essl.reader import CorruptRecordError, ESSLFileError, ESSLRecords


def _loader(path, **kw):
    kw.setdefault('decoder', dict(type='RandomResizedCrop', scale=32))
    kw.setdefault('num_workers', 2)
    return ESSLLoader(path, kw.pop('batch_size', 5), **kw)


@pytest.mark.parametrize('n, world', [(24, 2), (25, 4), (7, 3)])
def test_shards_are_disjoint_and_cover_the_dataset(n, world):
    for epoch in range(3):
        shards = [_ShardedOrder(n, 5, True, r, world).sample_order(epoch)
                  for r in range(world)]
        assert len({len(s) for s in shards}) == 1  # equal steps per rank
        together = np.concatenate(shards)
        assert set(together.tolist()) == set(range(n))
        # Only the padding (< world) repeats, as torch's DistributedSampler.
        assert len(together) - n < world
        if n % world == 0:
            assert len(together) == n


def test_order_is_seeded_per_epoch():
    a = _ShardedOrder(50, 1, True, 0, 1)
    assert np.array_equal(a.sample_order(3), a.sample_order(3))
    assert not np.array_equal(a.sample_order(3), a.sample_order(4))
    assert not np.array_equal(a.sample_order(3),
                              _ShardedOrder(50, 2, True, 0, 1).sample_order(3))
    assert np.array_equal(_ShardedOrder(7, 1, False, 0, 1).sample_order(9),
                          np.arange(7))


def test_batches_are_what_mmpretrain_preprocessors_take(photo_beton):
    from mmpretrain.models import ClsDataPreprocessor, SelfSupDataPreprocessor
    loader = _loader(photo_beton, shuffle=False, batch_size=8,
                     decoder=dict(type='CenterCrop', scale=(24, 32),
                                  crop_ratio=1.0))
    labels = ESSLRecords(photo_beton).labels.tolist()
    seen = []
    for batch in loader:
        assert batch['inputs'].dtype == torch.uint8
        assert batch['inputs'].shape == (8, 3, 24, 32)
        assert batch['inputs'].is_contiguous()
        assert all(isinstance(d, DataSample) for d in batch['data_samples'])
        seen += [int(d.gt_label) for d in batch['data_samples']]
    assert len(loader) == 3 and seen == labels
    assert loader.dataset.metainfo['classes'] == ('astronaut', 'chelsea',
                                                  'coffee')
    out = ClsDataPreprocessor(mean=[0] * 3, std=[1] * 3)(batch)
    assert out['inputs'].shape == (8, 3, 24, 32)
    out = SelfSupDataPreprocessor(mean=[0] * 3, std=[1] * 3)(batch)
    assert out['inputs'].shape == (8, 3, 24, 32)


def test_center_crop_pixels_match_the_stored_image(photo_beton):
    """The compiled loader path returns the decoded record, RGB order."""
    loader = _loader(photo_beton, shuffle=False, batch_size=4,
                     decoder=dict(type='CenterCrop', scale=(90, 90),
                                  crop_ratio=1.0, dct_scaling=False))
    batch = next(iter(loader))
    image = ESSLRecords(photo_beton)[0][0]  # 90x120: central 90x90
    got = batch['inputs'][0].permute(1, 2, 0).numpy().astype(int)
    assert np.abs(got - image[:, 15:105]).mean() < 0.5


def test_ranks_read_disjoint_shards_through_the_loader(fmnist_beton):
    seen = []
    for rank in range(2):
        loader = _loader(fmnist_beton, rank=rank, world_size=2, seed=3,
                         drop_last=False, batch_size=4)
        loader.set_epoch(1)
        seen.append([int(d.gt_label) for b in loader
                     for d in b['data_samples']])
        expect = ESSLRecords(fmnist_beton).labels[
            _ShardedOrder(40, 3, True, rank, 2).sample_order(1)]
        assert seen[-1] == expect.tolist()
    assert len(seen[0]) == len(seen[1]) == 20


def test_resolution_change_takes_effect_next_epoch(fmnist_beton):
    loader = _loader(fmnist_beton, batch_size=8)
    assert {tuple(b['inputs'].shape[2:]) for b in loader} == {(32, 32)}
    loader.set_output_size(16)
    assert loader.output_size == (16, 16)
    assert {tuple(b['inputs'].shape[2:]) for b in loader} == {(16, 16)}
    loader.set_output_size((20, 24))
    assert {tuple(b['inputs'].shape[2:]) for b in loader} == {(20, 24)}


def test_randaugment_magnitude_is_settable(fmnist_beton):
    loader = _loader(fmnist_beton, batch_transforms=[
        dict(type='BatchRandomFlip'),
        dict(type='BatchRandAugment', magnitude=0)])
    assert loader.set_randaugment_magnitude(7) == 1
    assert loader.batch_transforms[1].magnitude == 7


def test_set_epoch_replays_the_same_order(fmnist_beton):
    loader = _loader(fmnist_beton, batch_size=8, seed=11)

    def labels(epoch):
        loader.set_epoch(epoch)
        return [int(d.gt_label) for b in loader for d in b['data_samples']]

    assert labels(2) == labels(2)
    assert labels(2) != labels(3)


def test_random_crops_replay_for_the_same_seed_and_epoch(photo_beton):
    decoder = dict(type='RandomResizedCrop', scale=24,
                   crop_ratio_range=(0.08, 1.0))

    def images(seed, epoch, num_workers):
        # A fixed order: only the crops can differ.
        loader = _loader(photo_beton, batch_size=8, seed=seed, shuffle=False,
                         decoder=decoder, num_workers=num_workers)
        loader.set_epoch(epoch)
        return torch.cat([b['inputs'] for b in loader])

    first = images(5, 1, num_workers=1)
    # Boxes do not depend on thread scheduling or the number of threads.
    assert torch.equal(first, images(5, 1, num_workers=2))
    assert not torch.equal(first, images(5, 2, num_workers=1))
    assert not torch.equal(first, images(6, 1, num_workers=1))


def test_config_errors_name_the_problem(fmnist_beton, tmp_path):
    with pytest.raises(ValueError, match="not 'dataset'"):
        build_essl_loader(dict(type='ESSLLoader', path=fmnist_beton,
                               batch_size=2, decoder={}, dataset={}))
    with pytest.raises(ValueError, match='decoder type'):
        _loader(fmnist_beton, decoder=dict(type='Resize', scale=8))
    with pytest.raises(ValueError, match='crop_ratio_range'):
        _loader(fmnist_beton, decoder=dict(type='RandomResizedCrop', scale=8,
                                           crop_ratio_range=(0.5, 2)))
    with pytest.raises(ESSLFileError, match='missing.beton'):
        _loader(str(tmp_path / 'missing.beton'))
    with pytest.raises(ValueError, match='batch_size'):
        _loader(fmnist_beton, batch_size=0)
    # A sampler config contributes shuffle; torch-only keys are ignored.
    loader = build_essl_loader(dict(
        type='ESSLLoader', path=fmnist_beton, batch_size=2, num_workers=1,
        persistent_workers=True, pin_memory=True,
        sampler=dict(type='DefaultSampler', shuffle=False),
        decoder=dict(type='CenterCrop', scale=8)), seed=4)
    assert loader.shuffle is False and loader.seed == 4


def test_a_record_that_does_not_decode_raises_instead_of_hanging(
        photo_beton, tmp_path):
    """Without checksums (verify=False) the decoder's status still stops
    the epoch, naming file and record."""
    import shutil
    path = str(tmp_path / 'broken.beton')
    shutil.copy(photo_beton, path)
    shutil.copy(photo_beton + '.meta.json', path + '.meta.json')
    ptr = int(ESSLRecords(path).images[3]['data_ptr'])
    with open(path, 'r+b') as f:  # destroy the JPEG's SOI marker
        f.seek(ptr)
        f.write(b'\0\0\0\0')
    loader = _loader(path, shuffle=False, batch_size=8, verify=False)
    with pytest.raises(CorruptRecordError, match='broken.beton: record 3 is '
                       r'corrupt \(does not decode\)'):
        for _ in loader:
            pass


def test_reading_essl_keeps_torch_threads(fmnist_beton):
    """FFCV sets torch's threads to 1 on import; the model must keep its own.

    A fresh process, since FFCV is imported once per process.
    """
    from tests.helpers.tools import PYTHON, run_tool
    code = ('import torch; torch.set_num_threads(2); '
            'from mmeff.data.essl import ESSLLoader; '
            f'loader = ESSLLoader({fmnist_beton!r}, 8, '
            "dict(type='RandomResizedCrop', scale=16), num_workers=1); "
            'next(iter(loader)); print("threads", torch.get_num_threads())')
    result = run_tool([PYTHON, '-c', code])
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'threads 2' in result.stdout


@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
def test_batches_are_the_decoder_output_and_labels_unchanged(
        photo_beton, interpolation):
    """The loader adds nothing to the decoder's pixels: every batch equals the
    records decoded one by one with the same boxes, and each data sample's
    gt_label is what ``set_gt_label`` makes."""
    import numba

    from mmeff.data.essl import _lib
    from mmeff.data.essl.decoders import random_resized_crop_box, sample_key
    box_of = numba.njit(random_resized_crop_box)  # as the loader runs it
    loader = _loader(photo_beton, shuffle=True, seed=3, batch_size=4,
                     decoder=dict(type='RandomResizedCrop', scale=(24, 32),
                                  interpolation=interpolation))
    records = ESSLRecords(photo_beton)
    box_args = loader.decoder.box_args()
    epoch = 1
    loader.set_epoch(epoch)
    order = loader.order.sample_order(epoch)
    batches = list(loader)
    assert sum(len(b['inputs']) for b in batches) == len(loader) * 4
    scratch = np.empty(500 * 500 * 3, np.uint8)
    seen = 0
    for batch in batches:
        for image, sample in zip(batch['inputs'], batch['data_samples']):
            index = int(order[seen])
            seen += 1
            rec = records.images[index]
            h, w = int(rec['height']), int(rec['width'])
            box = box_of(h, w, *box_args,
                         np.uint64(sample_key(3, epoch, index)))
            want = np.zeros((3, 24, 32), np.uint8)
            assert _lib.decode_crop(
                records.raw_bytes(index), int(rec['mode']), h, w, box,
                scratch, want, _lib.INTERPOLATION[interpolation],
                channels_first=True) == _lib.OK
            assert torch.equal(image, torch.from_numpy(want))
            ref = DataSample().set_gt_label(int(records.labels[index]))
            assert torch.equal(sample.gt_label, ref.gt_label)
            assert sample.gt_label.dtype == ref.gt_label.dtype


def test_each_image_gets_new_boxes_every_epoch_and_replays_on_resume(
        photo_beton):
    """The boxes follow the epoch the loader is at, as MMEngine advances it
    (no ``set_epoch`` call), and a loader made afresh at that epoch, as on
    ``--resume``, draws the same boxes again."""
    decoder = dict(type='RandomResizedCrop', scale=24)

    def per_image(loader):
        # Sequential order: row i of an epoch is always image i.
        return torch.cat([b['inputs'] for b in loader])

    loader = _loader(photo_beton, batch_size=4, seed=7, shuffle=False,
                     decoder=decoder, drop_last=False)
    epochs = [per_image(loader) for _ in range(3)]
    for before, after in zip(epochs, epochs[1:]):
        for index, (a, b) in enumerate(zip(before, after)):
            assert not torch.equal(a, b), f'image {index} kept its box'
    resumed = _loader(photo_beton, batch_size=4, seed=7, shuffle=False,
                      decoder=decoder, drop_last=False)
    resumed.set_epoch(1)
    assert torch.equal(per_image(resumed), epochs[1])
    assert torch.equal(per_image(resumed), epochs[2])


def test_ffcv_loader_refuses_an_essl_file_naming_the_loader(photo_beton):
    """One decode path: FFCV's own Loader does not read ESSL records."""
    from ffcv.fields.basics import IntDecoder
    from ffcv.loader import Loader

    with pytest.raises(TypeError, match="read with mmeff's ESSLLoader"):
        Loader(photo_beton, batch_size=4, num_workers=1,
               pipelines=dict(label=[IntDecoder()]))


def _flipped_copy(beton, tmp_path, records):
    import shutil

    from .test_reader import flip_record_bytes
    path = str(tmp_path / 'flipped.beton')
    shutil.copy(beton, path)
    shutil.copy(beton + '.meta.json', path + '.meta.json')
    flip_record_bytes(path, records)
    return path


def test_verify_stops_at_a_corrupt_record_naming_it(photo_beton, tmp_path):
    path = _flipped_copy(photo_beton, tmp_path, [9])
    loader = _loader(path, shuffle=False, batch_size=8)
    with pytest.raises(CorruptRecordError, match=f'{path}: record 9 is '
                       r'corrupt \(checksum mismatch\)'):
        for _ in loader:
            pass


def test_skip_corrupt_replaces_counts_and_logs(photo_beton, tmp_path):
    """Records 2 and 5 fail their checksum: records 3 and 6 are read in
    their place, and the epoch's log says so."""
    from mmengine.logging import MMLogger
    log = tmp_path / 'run.log'
    MMLogger.get_instance('essl_skip_corrupt', log_file=str(log))
    path = _flipped_copy(photo_beton, tmp_path, [2, 5])
    center = dict(type='CenterCrop', scale=16)
    loader = _loader(path, shuffle=False, batch_size=8, decoder=center,
                     skip_corrupt=True)
    batch = next(iter(loader))
    labels = [int(s.gt_label) for s in batch['data_samples']]
    clean = next(iter(_loader(photo_beton, shuffle=False, batch_size=8,
                              decoder=center)))
    expected = [0, 1, 3, 3, 4, 6, 6, 7]
    assert torch.equal(batch['inputs'], clean['inputs'][expected])
    assert labels == [int(clean['data_samples'][i].gt_label)
                      for i in expected]
    for _ in loader:
        pass
    assert loader.replaced == 2 and loader.corrupt == {2, 5}
    assert (f'{path}: 2 read(s) of corrupt records replaced by intact ones '
            'this epoch (records [2, 5])') in log.read_text()


def test_a_batch_larger_than_the_data_set_is_named(fmnist_beton):
    from mmeff.data import DatasetError
    with pytest.raises(DatasetError, match=r'batch_size=64 is larger than '
                       r'the 20 images per rank \(40 records, world size 2\)'
                       r' and drop_last=True leaves no batch'):
        _loader(fmnist_beton, batch_size=64, rank=0, world_size=2)
    assert len(_loader(fmnist_beton, batch_size=64, drop_last=False)) == 1
