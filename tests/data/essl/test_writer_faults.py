"""The writer under faults and hostile input: it ends, says why in one line,
and leaves the previous output as it was."""
import os
import os.path as osp
import resource
import signal
import subprocess
import time

import numpy as np
from PIL import Image

from mmeff.data.essl.reader import ESSLRecords
from tests.helpers.tools import PYTHON, REPO, run_tool

from .conftest import cut_photos

WRITER = osp.join(REPO, 'tools', 'dataset_converters', 'essl_writer.py')


def _snapshot(out):
    return out.read_bytes(), (out.parent / (out.name + '.meta.json')
                              ).read_bytes()


def _last_line(result):
    return result.stderr.strip().splitlines()[-1]


def _only_outputs(folder, *names):
    assert sorted(os.listdir(folder)) == sorted(names)


def _write_old(src, out):
    res = run_tool([PYTHON, WRITER, src, str(out), '--write-mode', 'raw',
                    '--no-progress', '--workers', '1'])
    assert res.returncode == 0, res.stderr
    return _snapshot(out)


def _limit_file_size(limit):
    def preexec():
        # A full disk without filling one: writes past `limit` fail with
        # EFBIG (SIGXFSZ ignored, as the default would kill instead).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def test_a_failing_worker_ends_the_run_at_once_naming_the_image(tmp_path):
    """Case 1: a worker's write fails (file-size limit standing in for a
    full disk): exit 1 well within a bound, one line naming the output and
    the image, the old output byte-identical, no temporary file left."""
    src = str(tmp_path / 'src')
    cut_photos(src, per_class=20, size=(400, 300))
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    out = out_dir / 'a.beton'
    before = _write_old(src, out)
    env = dict(os.environ, PYTHONPATH=REPO)
    start = time.monotonic()
    res = subprocess.run(
        [PYTHON, WRITER, src, str(out), '--write-mode', 'raw', '--overwrite',
         '--no-progress', '--workers', '2', '--chunk-size', '4'],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
        preexec_fn=_limit_file_size(4 << 20))
    took = time.monotonic() - start
    assert res.returncode == 1, res.stderr[-2000:]
    assert took < 120
    line = _last_line(res)
    assert line.startswith(f'essl_writer: error: cannot write {out} while '
                           f'storing {src}/')
    assert 'File too large' in line and line.endswith('was left as it was')
    assert 'Traceback' not in res.stderr
    assert _snapshot(out) == before
    _only_outputs(out_dir, 'a.beton', 'a.beton.meta.json')


def test_records_larger_than_a_page_get_a_page_that_holds_them(tmp_path):
    """Case 1: a 2000x1500 raw record (9 MB, more than FFCV's 8 MiB page)
    is stored and reads back."""
    os.makedirs(tmp_path / 'src' / 'a')
    image = np.random.default_rng(0).integers(0, 255, (1500, 2000, 3),
                                              np.uint8)
    Image.fromarray(image).save(tmp_path / 'src' / 'a' / 'big.png')
    out = tmp_path / 'big.beton'
    res = run_tool([PYTHON, WRITER, str(tmp_path / 'src'), str(out),
                    '--write-mode', 'raw', '--no-progress', '--workers', '1'])
    assert res.returncode == 0, res.stderr
    got, label, _ = ESSLRecords(str(out))[0]
    assert label == 0 and np.array_equal(got, image)


def test_an_image_wider_than_a_record_holds_is_refused_before_writing(
        tmp_path):
    """Case 1: 65536 px wide cannot be stored (uint16 sizes): refused in the
    check pass, exit 2, nothing written."""
    os.makedirs(tmp_path / 'src' / 'a')
    Image.new('RGB', (65536, 2)).save(tmp_path / 'src' / 'a' / 'wide.png')
    out = tmp_path / 'out' / 'w.beton'
    res = run_tool([PYTHON, WRITER, str(tmp_path / 'src'), str(out),
                    '--no-progress', '--workers', '1'])
    assert res.returncode == 2
    assert _last_line(res) == (
        f'essl_writer: error: {tmp_path}/src/a/wide.png: 65536x2 pixels; '
        'ESSL records hold at most 65535 per side: pass --max-resolution '
        '(e.g. 500)')
    assert not out.exists()


def test_a_symlink_loop_is_followed_once(tmp_path):
    """Case 2: ``a/loop -> ../a`` stores class a's images once, warns."""
    src = tmp_path / 'src'
    cut_photos(str(src), per_class=3)
    os.symlink('../astronaut', src / 'astronaut' / 'loop')
    out = tmp_path / 'l.beton'
    res = run_tool([PYTHON, WRITER, str(src), str(out), '--no-progress',
                    '--workers', '1'])
    assert res.returncode == 0, res.stderr
    assert (f'warning: not following {src}/astronaut/loop: it leads to '
            f'{src}/astronaut, already read') in res.stderr
    assert len(ESSLRecords(str(out))) == 9


def test_max_resolution_out_of_range_is_refused(photo_folder, tmp_path):
    """Case 3: ``--max-resolution -5`` (and 0, which used to mean "no
    limit") are refused, exit 2, nothing written."""
    for value in ('-5', '0'):
        out = tmp_path / f'r{value}.beton'
        res = run_tool([PYTHON, WRITER, photo_folder, str(out),
                        '--max-resolution', value, '--no-progress'])
        assert res.returncode == 2
        assert _last_line(res) == (
            'essl_writer: error: max_resolution must be an int in [1, 65535]'
            ' (pixels of the longer side), or left out to keep full '
            f'resolution; got {value}')
    _only_outputs(tmp_path)


def test_two_writers_without_overwrite_never_both_succeed(photo_folder,
                                                          tmp_path):
    """Case 4: two writers to one output at once: one writes it, the other
    fails without replacing it."""
    out = tmp_path / 'race.beton'
    env = dict(os.environ, PYTHONPATH=REPO)
    procs = [subprocess.Popen(
        [PYTHON, WRITER, photo_folder, str(out), '--write-mode', mode,
         '--no-progress', '--workers', '1'], cwd=REPO, env=env,
        stderr=subprocess.PIPE, text=True) for mode in ('raw', 'png')]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    line = loser.strip().splitlines()[-1]
    assert line in (
        f'essl_writer: error: {out} exists; pass --overwrite '
        '(overwrite=True) to replace it',
        f'essl_writer: error: {out} appeared while this was being written '
        '(another writer?); it was left as it is')
    winner = 'raw' if results[0][0] == 0 else 'png'
    records = ESSLRecords(str(out))  # file and sidecar of the same writer
    assert records.meta['options']['write_mode'] == winner
    _only_outputs(tmp_path, 'race.beton', 'race.beton.meta.json')


def test_output_inside_the_sources_is_refused(tmp_path):
    """Case 5: ``--overwrite`` onto a source image, or into the source
    tree: exit 2, the sources unchanged."""
    src = tmp_path / 'src'
    cut_photos(str(src), per_class=2)
    image = src / 'coffee' / '000.jpg'
    before = image.read_bytes()
    for out in (image, src / 'data.beton'):
        res = run_tool([PYTHON, WRITER, str(src), str(out), '--overwrite',
                        '--no-progress'])
        assert res.returncode == 2
        assert _last_line(res) == (
            f'essl_writer: error: output {out} lies inside the source folder'
            f' {src}, whose files it would replace or be read as; write it '
            'outside')
    # An annotation list reads only what it lists: the listed images and
    # the list itself are refused.
    ann = tmp_path / 'ann.txt'
    ann.write_text('coffee/000.jpg 1\n')
    for out, line in ((image, f'output {image} is the source image {image}'),
                      (ann, f'output {ann} is the input file {ann}')):
        res = run_tool([PYTHON, WRITER, str(src), str(out), '--ann-file',
                        str(ann), '--overwrite', '--no-progress'])
        assert res.returncode == 2
        assert _last_line(res) == (f'essl_writer: error: {line}; choose '
                                   'another output')
    assert image.read_bytes() == before
    assert ann.read_text() == 'coffee/000.jpg 1\n'
    assert not (src / 'data.beton').exists()


def test_ctrl_c_ends_the_writer_with_one_line_and_the_old_output(
        photo_folder, tmp_path):
    """Case 12: SIGINT mid-write: exit 130, one line, no traceback, no
    leaked shared memory, the old output byte-identical."""
    out = tmp_path / 'i.beton'
    before = _write_old(photo_folder, out)
    # Slow each image read (a fork-inherited patch) so the interrupt lands
    # while the worker is filling the temporary file.
    code = ('import runpy, sys, time, mmeff.data.essl.writer as w\n'
            'load = w.load_rgb\n'
            'w.load_rgb = lambda p: (time.sleep(0.05), load(p))[1]\n'
            f'sys.argv = ["essl_writer", {photo_folder!r}, {str(out)!r}, '
            '"--overwrite", "--write-mode", "png", "--workers", "1", '
            '"--chunk-size", "1", "--no-progress"]\n'
            f'runpy.run_path({WRITER!r}, run_name="__main__")\n')
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([PYTHON, '-c', code], start_new_session=True,
                            cwd=REPO, env=env, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(f'.{out.name}.{proc.pid}.*.tmp')):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    assert proc.wait(timeout=60) == 130
    err = proc.stderr.read()
    assert err.strip().splitlines()[-1] == (
        f'essl_writer: interrupted; {out} and its sidecar were left as they '
        'were (nothing half-written remains); run the same command again to '
        'convert')
    assert 'Traceback' not in err and 'leaked' not in err
    assert _snapshot(out) == before
    _only_outputs(tmp_path, 'i.beton', 'i.beton.meta.json')
