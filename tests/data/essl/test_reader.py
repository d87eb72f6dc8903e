"""Opening ESSL files: checked against the sidecar, every record against its
CRC-32; essl_verify.py; one-line errors through tools/train.py."""
import os.path as osp
import shutil

import pytest

from mmeff.data.essl import CorruptRecordError, ESSLFileError, ESSLRecords
from tests.helpers.essl import copy_beton
from tests.helpers.tools import PYTHON, run_tool

VERIFY = 'tools/dataset_converters/essl_verify.py'


def flip_record_bytes(path, records):
    """Invert one byte in the middle of each of ``records``."""
    recs = ESSLRecords(path)
    table = recs.table()
    with open(path, 'r+b') as f:
        for i in records:
            at = int(table['ptrs'][i] + table['sizes'][i] // 2)
            f.seek(at)
            byte = f.read(1)[0]
            f.seek(at)
            f.write(bytes([byte ^ 0xFF]))


def test_truncated_file_is_named(photo_beton, tmp_path):
    path = copy_beton(photo_beton, tmp_path)
    size = osp.getsize(path)
    with open(path, 'r+b') as f:
        f.truncate(size // 2)
    with pytest.raises(ESSLFileError, match=f'{path}: {size // 2} bytes, but '
                       f'its sidecar records {size}: the file is truncated'):
        ESSLRecords(path)


def test_a_file_that_is_not_ffcv_is_named(photo_beton, tmp_path):
    path = copy_beton(photo_beton, tmp_path)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG' + bytes(4000))
    with pytest.raises(ESSLFileError, match=f'{path}: not an FFCV file '
                       r'\(header version 20617, FFCV writes 2\)'):
        ESSLRecords(path)


def test_missing_file_or_sidecar_is_named(photo_beton, tmp_path):
    with pytest.raises(ESSLFileError, match='ESSL file not found: .*nope'):
        ESSLRecords(str(tmp_path / 'nope.beton'))
    path = str(tmp_path / 'alone.beton')
    shutil.copy(photo_beton, path)
    with pytest.raises(ESSLFileError, match=f'{path}.meta.json is missing'):
        ESSLRecords(path)


def test_a_damaged_index_is_caught(photo_beton, tmp_path):
    """A changed label (in FFCV's record index) fails the index checksum."""
    from mmeff.data.essl._ffcv import HeaderType
    path = copy_beton(photo_beton, tmp_path)
    recs = ESSLRecords(path)
    offset = HeaderType.itemsize + recs.reader.field_descriptors.nbytes
    with open(path, 'r+b') as f:  # the first record's metadata
        f.seek(offset + recs.reader.metadata.dtype.itemsize - 1)
        f.write(b'\x07')
    with pytest.raises(ESSLFileError, match='record index does not match its '
                       'sidecar checksum'):
        ESSLRecords(path)


def test_flipped_bytes_in_jpeg_records_are_all_found(photo_beton, tmp_path):
    path = copy_beton(photo_beton, tmp_path)
    flipped = list(range(1, 22))  # 21 of the 24 JPEG records
    flip_record_bytes(path, flipped)
    recs = ESSLRecords(path)
    assert recs.corrupt_records() == flipped
    with pytest.raises(CorruptRecordError, match=f'{path}: record 1 is '
                       r'corrupt \(checksum mismatch\)'):
        recs[1]
    assert recs[0][0].shape == (90, 120, 3)


def test_flipped_bytes_in_raw_records_are_found(fmnist_beton, tmp_path):
    path = copy_beton(fmnist_beton, tmp_path)
    flip_record_bytes(path, [0, 39])
    assert ESSLRecords(path).corrupt_records() == [0, 39]


def _verify_main(argv):
    import importlib.util
    spec = importlib.util.spec_from_file_location('essl_verify', VERIFY)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool.main(argv)


def test_verify_tool_exit_status_and_bad_records(photo_beton, tmp_path,
                                                 capsys):
    assert _verify_main([photo_beton, '--no-progress']) == 0
    assert capsys.readouterr().out.strip() == \
        f'{photo_beton}: all 24 records intact'
    missing = str(tmp_path / 'none.beton')
    assert _verify_main([missing]) == 2
    assert capsys.readouterr().err.strip() == \
        f'essl_verify: error: ESSL file not found: {missing}'
    path = copy_beton(photo_beton, tmp_path)
    flip_record_bytes(path, [2, 5, 23])
    res = run_tool([PYTHON, VERIFY, path])  # as a user runs it
    assert res.returncode == 1, res.stderr
    assert res.stdout.strip() == f'{path}: 3 of 24 records corrupt: 2 5 23'
    assert 'verifying' in res.stderr  # the progress bar


def test_train_reports_a_truncated_file_in_one_line(fmnist_beton, tmp_path,
                                                    capsys):
    from mmeff.apis import train_main
    path = copy_beton(fmnist_beton, tmp_path)
    with open(path, 'r+b') as f:
        f.truncate(1000)
    config = 'configs/essl/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist_essl.py'
    rc = train_main([config, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                     f'train_dataloader.path={path}'])
    assert rc == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines()
             if 'error:' in ln]
    assert lines == [f'train: error: {path}: 1000 bytes, but its sidecar '
                     f'records {osp.getsize(fmnist_beton)}: the '
                     'file is truncated or was replaced; rewrite it with '
                     'tools/dataset_converters/essl_writer.py']


def test_verify_help_is_whole_and_lists_the_exit_codes():
    result = run_tool([PYTHON, VERIFY, '--help'])
    assert result.returncode == 0
    text = ' '.join(result.stdout.split())
    assert ('every record\'s bytes against the CRC-32 the writer stored.'
            in text)
    assert ('Exit status: 0 when every record is intact, 1 when some are '
            'corrupt (their indices are printed), 2 when the file cannot be '
            'opened as ESSL storage.') in text
