"""ESSL storage under damaged sidecars, lying headers, files changed under
the loader and bad decoder settings: one line each, bounded memory."""
import json
import os
import os.path as osp
import zlib

import cv2
import numpy as np
import pytest

from mmeff.data.essl import CorruptRecordError, ESSLFileError, ESSLRecords
from mmeff.data.essl.loader import ESSLLoader
from tests.helpers.essl import copy_beton
from tests.helpers.tools import PYTHON, REPO, run_tool

VERIFY = osp.join(REPO, 'tools', 'dataset_converters', 'essl_verify.py')
REWRITE = 'rewrite it with tools/dataset_converters/essl_writer.py'


def _edit_sidecar(path, edit):
    with open(path + '.meta.json') as f:
        meta = json.load(f)
    edit(meta)
    with open(path + '.meta.json', 'w') as f:
        json.dump(meta, f)
    with open(path, 'rb') as f, open(path + '.meta.json', 'rb') as g:
        return f.read(), g.read()


def _verify_fails(path, tail, snapshot):
    """essl_verify exits 2 with one line ending in ``tail``; nothing on
    disk changes."""
    res = run_tool([PYTHON, VERIFY, path, '--no-progress'])
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f'essl_verify: error: {path}.meta.json: {tail}; {REWRITE}']
    with open(path, 'rb') as f, open(path + '.meta.json', 'rb') as g:
        assert (f.read(), g.read()) == snapshot


def _loader(path, **kw):
    kw.setdefault('decoder', dict(type='CenterCrop', scale=32))
    return ESSLLoader(path, batch_size=kw.pop('batch_size', 4), rank=0,
                      world_size=1, num_workers=1, **kw)


def test_a_cut_or_mistyped_class_list_is_refused(photo_beton, tmp_path):
    """Case 6: ``classes`` cut short or not a list: the loader and
    essl_verify refuse it in one line."""
    path = copy_beton(photo_beton, tmp_path)
    snap = _edit_sidecar(path, lambda m: m.update(classes=m['classes'][:2]))
    _verify_fails(path, '2 classes but 3 class counts', snap)
    with pytest.raises(ESSLFileError, match='2 classes but 3 class counts'):
        _loader(path)
    snap = _edit_sidecar(path, lambda m: m.update(classes='abc'))
    _verify_fails(path, "field 'classes' must be a list of class names, got "
                  "'abc'", snap)
    # Both cut consistently: the record labels still give it away.
    snap = _edit_sidecar(path, lambda m: m.update(
        classes=['a', 'b'], class_counts=[8, 16]))
    res = run_tool([PYTHON, VERIFY, path, '--no-progress'])
    assert res.returncode == 2
    assert res.stderr.strip() == (
        f'essl_verify: error: {path}: labels up to 2, but its sidecar names '
        f'2 classes; {REWRITE}')


def test_missing_or_mistyped_sidecar_keys_are_named(photo_beton, tmp_path):
    """Case 15: a missing key and a size stored as text are named, not a
    bare KeyError or "N bytes, but its sidecar records N"."""
    path = copy_beton(photo_beton, tmp_path)
    snap = _edit_sidecar(path, lambda m: m.pop('file_bytes'))
    _verify_fails(path, "field 'file_bytes' is missing", snap)
    size = os.path.getsize(path)
    snap = _edit_sidecar(path, lambda m: m.update(file_bytes=str(size)))
    _verify_fails(path, f"field 'file_bytes' must be a size in bytes, got "
                  f"'{size}'", snap)


def _rewrite_record(path, index, change):
    """Apply ``change`` to record ``index``'s bytes, then recompute its
    CRC-32 and the sidecar's index checksum, as a careful forger would."""
    from mmeff.data.essl._ffcv import HeaderType, Reader
    from mmeff.data.essl.reader import index_crc32
    recs = ESSLRecords(path)
    table = recs.table()
    ptr, size = int(table['ptrs'][index]), int(table['sizes'][index])
    with open(path, 'r+b') as f:
        f.seek(ptr)
        data = bytearray(f.read(size))
        change(data)
        f.seek(ptr)
        f.write(data)
        meta_dtype = recs.reader.metadata.dtype
        image = meta_dtype.fields['f0']
        at = (HeaderType.itemsize + recs.reader.field_descriptors.nbytes +
              index * meta_dtype.itemsize + image[1] +
              image[0].fields['crc32'][1])
        f.seek(at)
        f.write(np.uint32(zlib.crc32(bytes(data))).tobytes())
    _edit_sidecar(path, lambda m: m.update(
        index_crc32=index_crc32(Reader(path))))


def _claim_30000(data):
    if data[:4] == b'\x89PNG':
        data[16:24] = (30000).to_bytes(4, 'big') * 2
        return
    at = data.index(b'\xff\xc0')  # baseline frame header: height, width
    data[at + 5:at + 9] = (30000).to_bytes(2, 'big') * 2


@pytest.mark.parametrize('mode', ['jpg', 'png'])
def test_a_header_claiming_30000_square_allocates_nothing_for_it(
        photo_folder, tmp_path, mode):
    """Case 11: a 1-2 KB record whose header claims 30000x30000 (checksums
    recomputed) is refused as corrupt, before any decode, by the reader and
    by the loader."""
    import resource

    from mmeff.data.essl import write_essl
    path = str(tmp_path / f'{mode}.beton')
    write_essl(photo_folder, path, write_mode=mode, max_resolution=40,
               num_workers=1, progress=False)
    _rewrite_record(path, 2, _claim_30000)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CorruptRecordError, match=r'record 2 is corrupt \(its '
                       r'header says \(30000, 30000\) \(h, w\), its index'):
        ESSLRecords(path)[2]
    loader = _loader(path, shuffle=False)
    with pytest.raises(CorruptRecordError, match=f'{mode}.beton: record 2 is '
                       r'corrupt \(does not decode\)'):
        for _ in loader:
            pass
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown < 500 * 1024  # KiB: far below the 2.7 GB decode


_BUS = '''
import os, sys
from mmeff.data.essl.loader import ESSLLoader
loader = ESSLLoader(sys.argv[1], batch_size=4, rank=0, world_size=1,
                    decoder=dict(type='CenterCrop', scale=32), shuffle=False)
for _ in loader:
    pass
os.truncate(sys.argv[1], 4096)  # what `cp` over a live file does first
for _ in loader:
    pass
print('read past the end without a fault')
'''


def test_a_file_truncated_under_the_loader_is_named(photo_beton, tmp_path):
    """Case 13: the file shrinks while mapped: one line naming it, exit 1,
    instead of a silent death by SIGBUS (exit 135)."""
    path = copy_beton(photo_beton, tmp_path)
    res = run_tool([PYTHON, '-c', _BUS, path])
    assert res.returncode == 1, res.stderr[-2000:]
    assert res.stderr.strip().splitlines()[-1] == (
        f'error: {path} was truncated or rewritten in place while being read '
        '(bus error); training stopped. Replace ESSL files by writing a new '
        'file and renaming it, then resume')
    assert os.path.getsize(path) == 4096


@pytest.mark.parametrize('scale', [0, -3, (0, 32), True])
def test_a_zero_output_size_is_a_config_error_not_corrupt_data(
        photo_beton, scale):
    """Case 14: ``scale=0`` is refused when the loader is built; no record
    is blamed."""
    with pytest.raises(ValueError, match=r'^scale must be a positive int or '
                       r'\(h, w\) of positive ints \(pixels\), got '):
        _loader(photo_beton, decoder=dict(type='RandomResizedCrop',
                                          scale=scale))
    loader = _loader(photo_beton)
    with pytest.raises(ValueError, match='^output size must be a positive'):
        loader.set_output_size(0)


_BIG = '''
import sys
from mmeff.data.essl.loader import ESSLLoader
loader = ESSLLoader(sys.argv[1], batch_size=256, rank=0, world_size=1,
                    num_workers=2, decoder=dict(type='RandomResizedCrop',
                    scale=224, dct_scaling=False))
batches = sum(1 for _ in loader)
scratch = loader._table()['scratch'].nbytes
# VmHWM (peak resident) of this program alone: ru_maxrss would carry the
# parent's peak over fork + exec.
with open('/proc/self/status') as f:
    peak = next(int(line.split()[1]) * 1024 for line in f
                if line.startswith('VmHWM:'))
print(batches, scratch, peak)
'''


def test_one_6000x4000_photo_at_batch_256_stays_under_2_gb(tmp_path):
    """Case 10: one large photo among 256 small ones, batch 256: the decode
    windows are one per thread, not one per image (256 x 72 MB = 18 GB),
    and the process stays under 2 GB resident."""
    from mmeff.data.essl import write_essl
    src = tmp_path / 'src' / 'a'
    os.makedirs(src)
    y, x = np.mgrid[0:4000, 0:6000]
    big = np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)
    cv2.imwrite(str(src / 'big.jpg'), big)
    del x, y
    small = cv2.resize(big, (96, 64), interpolation=cv2.INTER_AREA)
    for i in range(255):
        cv2.imwrite(str(src / f's{i:03d}.jpg'), small)
    path = str(tmp_path / 'big.beton')
    write_essl(str(tmp_path / 'src'), path, num_workers=1, progress=False)
    res = run_tool([PYTHON, '-c', _BIG, path])
    assert res.returncode == 0, res.stderr[-2000:]
    batches, scratch, peak = map(int, res.stdout.split())
    assert batches == 1
    assert scratch <= 2 * 6000 * 4000 * 3
    assert peak < 2 * 2**30
