"""ESSL writer: round trips, storage modes, and every kind of bad input."""
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
from PIL import Image

from mmeff.data import DatasetError
from mmeff.data.essl import read_sidecar, write_essl
from mmeff.data.essl.reader import ESSLFileError, ESSLRecords
from tests.helpers.tools import PYTHON, REPO, run_tool

from .conftest import PHOTOS, cut_photos

WRITER = 'tools/dataset_converters/essl_writer.py'


def _write(src, out, **kw):
    kw.setdefault('num_workers', 1)
    kw.setdefault('progress', False)
    return write_essl(str(src), str(out), **kw)


def _rgb(path):
    return np.asarray(Image.open(path).convert('RGB'))


def _records(path):
    recs = ESSLRecords(path)
    return [recs[i] for i in range(len(recs))]


def test_png_round_trip_is_lossless_and_keeps_labels(tmp_path):
    expected = cut_photos(str(tmp_path / 'src'), per_class=3, fmt='png')
    meta = _write(tmp_path / 'src', tmp_path / 'a.beton', write_mode='png')
    records = _records(str(tmp_path / 'a.beton'))
    assert len(records) == meta['num_samples'] == len(expected) == 9
    # Class folders are listed in sorted order, files sorted inside them.
    classes = sorted(PHOTOS)
    for (path, _), (image, got_label, mode) in zip(sorted(expected), records):
        assert mode == 2
        assert got_label == classes.index(osp.basename(osp.dirname(path)))
        np.testing.assert_array_equal(image, _rgb(path))
    assert meta['classes'] == sorted(PHOTOS)
    assert meta['class_counts'] == [3, 3, 3]
    assert meta['record_modes'] == dict(jpg=0, raw=0, png=9)
    assert read_sidecar(str(tmp_path / 'a.beton')) == meta


def test_raw_round_trip_and_max_resolution(photo_folder, tmp_path):
    meta = _write(photo_folder, tmp_path / 'r.beton', write_mode='raw',
                  max_resolution=60)
    records = _records(str(tmp_path / 'r.beton'))
    paths = sorted(osp.join(dp, f) for dp, _, fs in os.walk(photo_folder)
                   for f in fs if f.endswith('.jpg'))
    assert len(records) == len(paths) == 24
    for path, (image, _, mode) in zip(paths, records):
        ref = cv2.resize(_rgb(path), (60, 45), interpolation=cv2.INTER_AREA)
        assert mode == 1
        np.testing.assert_array_equal(image, ref)
    assert (meta['max_height'], meta['max_width']) == (45, 60)
    assert meta['options']['max_resolution'] == 60


def test_jpg_records_are_close_to_the_source(photo_folder, photo_beton):
    records = _records(photo_beton)
    path = osp.join(photo_folder, 'astronaut', '000.jpg')
    image, label, mode = records[0]
    assert mode == 0 and label == 0  # astronaut sorts first
    diff = np.abs(image.astype(int) - _rgb(path))
    assert diff.mean() < 3  # quality 90 re-encode of a quality 95 file


def test_proportion_mode_mixes_and_is_seeded(photo_folder, tmp_path):
    a = _write(photo_folder, tmp_path / 'a.beton', write_mode='proportion',
               compress_probability=0.5, seed=3, num_workers=2)
    b = _write(photo_folder, tmp_path / 'b.beton', write_mode='proportion',
               compress_probability=0.5, seed=3, num_workers=1, chunk_size=5)
    assert a['record_modes']['jpg'] > 0 and a['record_modes']['raw'] > 0
    assert a['record_modes'] == b['record_modes']
    modes = [m for _, _, m in _records(str(tmp_path / 'a.beton'))]
    assert modes == [m for _, _, m in _records(str(tmp_path / 'b.beton'))]


def test_smart_mode_jpeg_codes_only_large_images(tmp_path):
    src = tmp_path / 'src'
    cut_photos(str(src / 'big'), per_class=1, size=(120, 90))
    cut_photos(str(src / 'small'), per_class=1, size=(20, 15))
    # Flatten to two classes: big/<photo>/ -> big/, small/<photo>/ -> small/
    for cls in ('big', 'small'):
        for sub in PHOTOS:
            for f in os.listdir(src / cls / sub):
                shutil.move(str(src / cls / sub / f),
                            str(src / cls / f'{sub}{f}'))
            os.rmdir(src / cls / sub)
    meta = _write(src, tmp_path / 's.beton', write_mode='smart',
                  smart_threshold=20 * 15 * 3)
    modes = {label: mode for _, label, mode in
             _records(str(tmp_path / 's.beton'))}
    assert meta['classes'] == ['big', 'small']
    assert modes == {0: 0, 1: 1}  # big -> jpg, small -> raw


def test_annotation_file_list(photo_folder, tmp_path):
    ann = tmp_path / 'ann.txt'
    ann.write_text('coffee/001.jpg 2\nastronaut/002.jpg 0\n\n'
                   'chelsea/003.jpg 1\n')
    classes = tmp_path / 'classes.txt'
    classes.write_text('a\nb\nc\n')
    meta = _write(photo_folder, tmp_path / 'l.beton', ann_file=str(ann),
                  classes=str(classes), write_mode='png')
    records = _records(str(tmp_path / 'l.beton'))
    assert [lbl for _, lbl, _ in records] == [2, 0, 1]
    np.testing.assert_array_equal(
        records[1][0], _rgb(osp.join(photo_folder, 'astronaut/002.jpg')))
    assert meta['classes'] == ['a', 'b', 'c']
    assert meta['class_counts'] == [1, 1, 1]


@pytest.fixture
def messy_folder(tmp_path):
    """Good photos plus a truncated JPEG, a corrupt one and a text file."""
    src = tmp_path / 'messy'
    cut_photos(str(src), per_class=2)
    good = src / 'coffee' / '000.jpg'
    data = good.read_bytes()
    (src / 'coffee' / 'truncated.jpg').write_bytes(data[:len(data) // 2])
    (src / 'chelsea' / 'corrupt.jpg').write_bytes(os.urandom(3000))
    (src / 'astronaut' / 'notes.txt').write_text('not an image')
    (src / 'README').write_text('outside the class folders')
    return src


def test_bad_files_are_skipped_warned_and_counted(messy_folder, tmp_path):
    with pytest.warns(UserWarning) as record:
        meta = _write(messy_folder, tmp_path / 'm.beton')
    assert meta['num_samples'] == 6
    assert meta['num_skipped'] == 4
    skipped = {osp.basename(s['path']) for s in meta['skipped']}
    assert skipped == {'truncated.jpg', 'corrupt.jpg', 'notes.txt', 'README'}
    warned = ' '.join(str(w.message) for w in record)
    for name in skipped:
        assert name in warned
    assert len(ESSLRecords(str(tmp_path / 'm.beton'))) == 6


def test_strict_makes_bad_files_fatal(messy_folder, tmp_path):
    with pytest.raises(DatasetError, match='README|truncated|corrupt|notes'):
        _write(messy_folder, tmp_path / 'm.beton', strict=True)
    assert not osp.exists(str(tmp_path / 'm.beton'))


def test_empty_and_missing_sources_are_errors(tmp_path):
    (tmp_path / 'empty' / 'cls').mkdir(parents=True)
    with pytest.raises(DatasetError, match='no readable images'):
        _write(tmp_path / 'empty', tmp_path / 'e.beton')
    with pytest.raises(DatasetError, match='not found.*nowhere'):
        _write(tmp_path / 'nowhere', tmp_path / 'e.beton')


def test_bad_annotation_line_names_file_and_line(photo_folder, tmp_path):
    ann = tmp_path / 'ann.txt'
    ann.write_text('coffee/001.jpg 2\ncoffee/002.jpg two\n')
    with pytest.raises(ValueError, match=r'ann.txt:2: expected'):
        _write(photo_folder, tmp_path / 'x.beton', ann_file=str(ann))


@pytest.mark.parametrize('kw, msg', [
    (dict(write_mode='webp'), 'write_mode'),
    (dict(write_mode='smart'), 'smart_threshold'),
    (dict(jpeg_quality=0), 'jpeg_quality'),
    (dict(compress_probability=1.5), 'compress_probability'),
])
def test_bad_options_are_rejected(photo_folder, tmp_path, kw, msg):
    with pytest.raises(ValueError, match=msg):
        _write(photo_folder, tmp_path / 'x.beton', **kw)


def test_sidecar_missing_is_named(photo_beton, tmp_path):
    path = tmp_path / 'copy.beton'
    shutil.copy(photo_beton, path)
    with pytest.raises(ESSLFileError, match='copy.beton.meta.json'):
        read_sidecar(str(path))


def test_cli_writes_file_and_reports(messy_folder, tmp_path):
    out = tmp_path / 'cli.beton'
    res = run_tool([PYTHON, WRITER, str(messy_folder), str(out),
                    '--write-mode', 'png', '--max-resolution', '64',
                    '--workers', '2', '--chunk-size', '2', '--no-progress'])
    assert res.returncode == 0, res.stderr
    assert 'wrote 6 images' in res.stdout and 'skipped 4' in res.stdout
    assert res.stderr.count('warning: skipping') == 4
    meta = json.loads((tmp_path / 'cli.beton.meta.json').read_text())
    assert meta['options']['write_mode'] == 'png'
    assert meta['options']['chunk_size'] == 2
    assert meta['record_modes']['png'] == 6


def test_cli_strict_fails_with_one_line(messy_folder, tmp_path):
    res = run_tool([PYTHON, WRITER, str(messy_folder),
                    str(tmp_path / 'x.beton'), '--strict', '--no-progress'])
    assert res.returncode == 2
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith('essl_writer: error: ')
    assert str(messy_folder) in last


def _cv2_rgb(path):
    """What MMPretrain's LoadImageFromFile reads (cv2, 'color'), as RGB."""
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR),
                        cv2.COLOR_BGR2RGB)


@pytest.fixture(scope='module')
def odd_images(tmp_path_factory):
    """One class folder of images in every mode and EXIF orientation cv2
    treats specially, made with PIL and numpy."""
    src = tmp_path_factory.mktemp('odd') / 'x'
    src.mkdir()
    rng = np.random.default_rng(0)
    rgb = (rng.random((24, 40, 3)) * 255).astype(np.uint8)
    for o in range(1, 9):
        img = Image.fromarray(rgb)
        exif = img.getexif()
        exif[0x0112] = o  # Orientation
        img.save(src / f'exif{o}.jpg', exif=exif, quality=95)
    ramp = np.linspace(0, 65535, 24 * 40).reshape(24, 40).astype(np.uint16)
    Image.fromarray(ramp).save(src / 'gray16.png')
    cv2.imwrite(str(src / 'rgb16.png'), np.stack([ramp, ramp[::-1],
                                                  65535 - ramp], -1))
    Image.fromarray(rgb).convert('P').save(src / 'palette.png')
    Image.fromarray(rgb).convert('CMYK').save(src / 'cmyk.jpg', quality=95)
    rgba = np.dstack([rgb, (rng.random((24, 40)) * 255).astype(np.uint8)])
    Image.fromarray(rgba, 'RGBA').save(src / 'rgba.png')
    Image.fromarray(rgb[..., 0]).save(src / 'gray.png')
    return src.parent


def test_stored_pixels_are_what_cv2_reads(odd_images, tmp_path):
    """EXIF orientations 1-8, 16-bit, palette, CMYK, alpha and grayscale
    sources are stored exactly as LoadImageFromFile (cv2) decodes them."""
    meta = _write(odd_images, tmp_path / 'o.beton', write_mode='raw')
    paths = sorted((odd_images / 'x').iterdir())
    records = _records(str(tmp_path / 'o.beton'))
    assert meta['num_skipped'] == 0 and len(records) == len(paths) == 14
    for path, (image, _, _) in zip(paths, records):
        np.testing.assert_array_equal(image, _cv2_rgb(path), err_msg=path.name)
    by_name = dict(zip((p.name for p in paths), (r[0] for r in records)))
    # Orientations 5-8 swap the axes; 16-bit keeps its ramp (cv2's >> 8).
    assert by_name['exif6.jpg'].shape == (40, 24, 3)
    assert by_name['exif1.jpg'].shape == (24, 40, 3)
    ramp = by_name['gray16.png'][..., 0].reshape(-1)
    np.testing.assert_array_equal(
        ramp, (np.linspace(0, 65535, 960).astype(np.uint16) >> 8))


def test_empty_class_folder_is_warned_and_keeps_its_index(tmp_path):
    """Labels are CustomDataset's: the empty folder keeps label 1."""
    from mmpretrain.datasets import CustomDataset
    src = tmp_path / 'src'
    cut_photos(str(src), per_class=2)
    (src / 'bare').mkdir()  # sorted: astronaut, bare, chelsea, coffee
    with pytest.warns(UserWarning, match=f'class folder {src / "bare"} has '
                      'no readable image; its label 1 stays reserved'):
        meta = _write(src, tmp_path / 'e.beton', write_mode='png')
    assert meta['empty_classes'] == ['bare']
    assert meta['class_counts'] == [2, 0, 2, 2]
    ours = [lbl for _, lbl, _ in _records(str(tmp_path / 'e.beton'))]
    dataset = CustomDataset(data_prefix=str(src), pipeline=[])
    assert dataset.CLASSES == tuple(meta['classes'])
    assert ours == [dataset.get_data_info(i)['gt_label']
                    for i in range(len(dataset))] == [0, 0, 2, 2, 3, 3]


def _snapshot(out):
    return out.read_bytes(), (out.parent / (out.name + '.meta.json')
                              ).read_bytes()


def test_existing_output_is_refused_unless_overwrite(photo_folder, tmp_path):
    out = tmp_path / 'a.beton'
    _write(photo_folder, out, write_mode='raw', max_resolution=20)
    before = _snapshot(out)
    with pytest.raises(ESSLFileError, match=f'{out} exists; pass '
                       r'--overwrite \(overwrite=True\)'):
        _write(photo_folder, out, write_mode='png')
    assert _snapshot(out) == before
    res = run_tool([PYTHON, WRITER, photo_folder, str(out), '--no-progress'])
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1].startswith(
        f'essl_writer: error: {out} exists; pass --overwrite')
    meta = _write(photo_folder, out, write_mode='png', overwrite=True)
    assert meta['record_modes']['png'] == 24
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'a.beton', 'a.beton.meta.json']  # no temporary file left


def test_a_killed_write_leaves_the_old_output_untouched(photo_folder,
                                                        tmp_path):
    """SIGKILL (the whole process group) while records are being written:
    the old file and sidecar keep their bytes and still open."""
    import signal
    import subprocess
    import time
    out = tmp_path / 'k.beton'
    _write(photo_folder, out, write_mode='raw')
    before = _snapshot(out)
    # Slow each image read (a fork-inherited patch) so the kill lands
    # while the writer's worker is filling the temporary file.
    code = ('import time, mmeff.data.essl.writer as w\n'
            'load = w.load_rgb\n'
            'w.load_rgb = lambda p: (time.sleep(0.05), load(p))[1]\n'
            f'w.write_essl({photo_folder!r}, {str(out)!r}, write_mode="png",'
            ' num_workers=1, chunk_size=1, progress=False, overwrite=True)\n')
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([PYTHON, '-c', code], start_new_session=True,
                            cwd=REPO, env=env)
    deadline = time.monotonic() + 120
    # made when the records start (24 x 0.05 s)
    while not list(out.parent.glob(f'.{out.name}.{proc.pid}.*.tmp')):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)
    assert proc.poll() is None  # still writing
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _snapshot(out) == before
    assert len(ESSLRecords(str(out))) == 24


def test_writer_help_shows_every_default_and_the_examples():
    result = run_tool([PYTHON, 'tools/dataset_converters/essl_writer.py',
                       '--help'])
    assert result.returncode == 0
    text = ' '.join(result.stdout.split())
    for default in ('(default: jpg)', '(default: 90)', '(default: 0.5)',
                    '(default: 100)', '(default: 0)', '(default: 4)',
                    '(default: all CPUs)'):
        assert default in text, default
    assert 'data/imagenet/train \\ data/imagenet/train_500_q90.beton' in text
