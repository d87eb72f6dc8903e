"""Open ESSL files checked against their sidecar; single records, decoded.

Every way in (:class:`ESSLRecords`, :class:`ESSLLoader`,
``essl_verify.py``) opens a file through :func:`open_essl`, which checks
that the file and its sidecar exist, that the file is FFCV's format, that
its size is the one the sidecar records and that its header, field table,
record index and allocation table hash to the sidecar's ``index_crc32``.
Each failure is one :class:`ESSLFileError` naming the file. Records carry a
CRC-32 of their stored bytes, checked on every read.

Training reads through :class:`ESSLLoader`; this is the plain reference path:
the record's bytes straight from the file, decoded by OpenCV.
"""
import json
import os.path as osp
import zlib

import cv2
import numpy as np

from ..checks import DatasetError

SIDECAR_SUFFIX = '.meta.json'
ESSL_FORMAT_VERSION = 2
_REWRITE = 'rewrite it with tools/dataset_converters/essl_writer.py'


class ESSLFileError(DatasetError):
    """An ESSL file or its sidecar is missing, foreign or damaged."""


class CorruptRecordError(ESSLFileError):
    """A record's bytes fail their checksum or do not decode."""

    def __init__(self, path, record, why):
        super().__init__(
            f'{path}: record {record} is corrupt ({why}); '
            'tools/dataset_converters/essl_verify.py lists every bad record; '
            f'{_REWRITE} or train with skip_corrupt=True')
        self.path, self.record = path, record


def sidecar_path(path):
    return path + SIDECAR_SUFFIX


def read_sidecar(path):
    """The sidecar dict of ESSL file ``path`` (raises naming the file)."""
    meta_path = sidecar_path(path)
    if not osp.isfile(path):
        raise ESSLFileError(f'ESSL file not found: {path}')
    if not osp.isfile(meta_path):
        raise ESSLFileError(
            f'{meta_path} is missing: ESSL files are written by '
            'tools/dataset_converters/essl_writer.py with a sidecar')
    with open(meta_path) as f:
        try:
            meta = json.load(f)
        except json.JSONDecodeError as err:
            raise ESSLFileError(f'{meta_path}: not valid JSON ({err})') \
                from None
    version = meta.get('format_version') if isinstance(meta, dict) else None
    if version != ESSL_FORMAT_VERSION:
        raise ESSLFileError(
            f'{meta_path}: ESSL format {version}, this mmeff reads format '
            f'{ESSL_FORMAT_VERSION}; {_REWRITE}')
    problem = sidecar_problem(meta)
    if problem is not None:
        raise ESSLFileError(f'{meta_path}: {problem}; {_REWRITE}')
    return meta


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _int_list(value):
    return isinstance(value, list) and all(_is_int(v) and v >= 0
                                           for v in value)


def _str_list(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


# The one schema of a sidecar: key -> (check, what it must be).
SIDECAR_SCHEMA = dict(
    num_samples=(lambda v: _is_int(v) and v >= 0, 'a count'),
    file_bytes=(lambda v: _is_int(v) and v > 0, 'a size in bytes'),
    index_crc32=(lambda v: _is_int(v) and 0 <= v < 2**32, 'a CRC-32'),
    max_height=(lambda v: _is_int(v) and v >= 0, 'a size in pixels'),
    max_width=(lambda v: _is_int(v) and v >= 0, 'a size in pixels'),
    classes=(_str_list, 'a list of class names'),
    class_counts=(_int_list, 'a list of counts'),
    empty_classes=(_str_list, 'a list of class names'),
    skipped=(lambda v: isinstance(v, list), 'a list'),
    options=(lambda v: isinstance(v, dict), 'a dict'),
    record_modes=(lambda v: isinstance(v, dict), 'a dict'),
)


def sidecar_problem(meta):
    """What is wrong with sidecar dict ``meta`` (keys, types, lengths),
    or ``None``."""
    for key, (ok, what) in SIDECAR_SCHEMA.items():
        if key not in meta:
            return f'field {key!r} is missing'
        if not ok(meta[key]):
            return f'field {key!r} must be {what}, got {meta[key]!r:.60}'
    if len(meta['class_counts']) != len(meta['classes']):
        return (f'{len(meta["classes"])} classes but '
                f'{len(meta["class_counts"])} class counts')
    if sum(meta['class_counts']) != meta['num_samples']:
        return (f'class counts add up to {sum(meta["class_counts"])}, not '
                f'num_samples {meta["num_samples"]}')
    return None


def index_crc32(reader):
    """CRC-32 of an FFCV file's header, field table, record index (labels,
    sizes, record checksums) and allocation table."""
    crc = 0
    for part in (reader.header, reader.field_descriptors, reader.metadata,
                 reader.alloc_table):
        crc = zlib.crc32(np.ascontiguousarray(part).tobytes(), crc)
    return crc


def _check_header(path, size):
    from ._ffcv import CURRENT_VERSION, HeaderType
    if size < HeaderType.itemsize:
        raise ESSLFileError(f'{path}: not an FFCV file ({size} bytes, '
                            'shorter than the header)')
    header = np.fromfile(path, HeaderType, count=1)[0]
    if header['version'] != CURRENT_VERSION:
        raise ESSLFileError(
            f'{path}: not an FFCV file (header version '
            f'{int(header["version"])}, FFCV writes {CURRENT_VERSION})')
    return header


def open_essl(path):
    """Check ``path`` against its sidecar; ``(sidecar, FFCV Reader)``."""
    from . import field  # noqa: F401  registers the field type
    from ._ffcv import ALLOC_TABLE_TYPE, Reader
    meta = read_sidecar(path)
    size = osp.getsize(path)
    header = _check_header(path, size)
    if size != meta['file_bytes']:
        raise ESSLFileError(
            f'{path}: {size} bytes, but its sidecar records '
            f'{meta["file_bytes"]}: the file is truncated or was replaced; '
            f'{_REWRITE}')
    table_bytes = size - int(header['alloc_table_ptr'])
    if header['num_samples'] != meta['num_samples'] or table_bytes < 0 or \
            table_bytes % ALLOC_TABLE_TYPE.itemsize:
        raise ESSLFileError(f'{path}: header does not match its sidecar '
                            f'(records, index position); {_REWRITE}')
    try:
        reader = Reader(path)
    except (KeyError, ValueError) as err:
        raise ESSLFileError(f'{path}: unreadable field table ({err}); '
                            f'{_REWRITE}') from None
    if index_crc32(reader) != meta['index_crc32']:
        raise ESSLFileError(f'{path}: record index does not match its '
                            f'sidecar checksum (damaged); {_REWRITE}')
    return meta, reader


def encoded_size(data):
    """``(height, width)`` from a JPEG's frame header or a PNG's IHDR,
    without decoding; ``None`` if neither is found."""
    data = bytes(data[:1 << 16]) if len(data) > 1 << 16 else bytes(data)
    if data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) >= 24:
        return (int.from_bytes(data[20:24], 'big'),
                int.from_bytes(data[16:20], 'big'))
    pos = 2 if data[:2] == b'\xff\xd8' else len(data)
    while pos + 9 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in _SOF_MARKERS:
            return (int.from_bytes(data[pos + 5:pos + 7], 'big'),
                    int.from_bytes(data[pos + 7:pos + 9], 'big'))
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], 'big')
    return None


# SOF0-SOF15 less DHT (C4), JPG (C8) and DAC (CC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def record_is_intact(table, data, index):
    """Whether record ``index`` of ``data`` (the file's bytes, e.g. a memory
    map) matches the CRC-32 in ``table`` (:meth:`ESSLRecords.table`)."""
    start, size = table['ptrs'][index], table['sizes'][index]
    return zlib.crc32(data[start:start + size]) == table['crcs'][index]


class ESSLRecords:
    """``records[i] -> (RGB uint8 array, label, mode)`` of an ESSL file,
    each record checked against its CRC-32."""

    def __init__(self, path):
        self.path = path
        self.meta, self.reader = open_essl(path)
        names = self.reader.field_names
        meta = self.reader.metadata
        self.images = meta[f'f{names.index("image")}']
        self.labels = meta[f'f{names.index("label")}']  # IntField: plain int64
        table = self.reader.alloc_table
        self._sizes = dict(zip(table['ptr'].tolist(), table['size'].tolist()))
        self._check_index_against_sidecar()

    def _check_index_against_sidecar(self):
        """Labels within the sidecar's classes, sizes within its maxima
        (which bound what any decode of a record may allocate)."""
        meta, n = self.meta, len(self)
        labels = self.labels.astype(np.int64).reshape(-1)
        if n and (labels.min() < 0 or labels.max() >= len(meta['classes'])):
            raise ESSLFileError(
                f'{self.path}: labels up to {int(labels.max())}, but its '
                f'sidecar names {len(meta["classes"])} classes; {_REWRITE}')
        counts = np.bincount(labels, minlength=len(meta['classes']))
        if counts.tolist() != meta['class_counts']:
            raise ESSLFileError(f'{self.path}: labels do not match the class '
                                f'counts of its sidecar; {_REWRITE}')
        if n and (int(self.images['height'].max()) > meta['max_height'] or
                  int(self.images['width'].max()) > meta['max_width']):
            raise ESSLFileError(
                f'{self.path}: records larger than its sidecar\'s '
                f'{meta["max_width"]}x{meta["max_height"]}; {_REWRITE}')

    def __len__(self):
        return int(self.reader.num_samples)

    def table(self):
        """Per-record arrays the compiled loader reads: ``ptrs``, ``sizes``
        (bytes), ``modes``, ``heights``, ``widths``, ``labels`` and
        ``crcs``."""
        ptrs = self.images['data_ptr'].astype(np.int64)
        sizes = np.array([self._sizes[p] for p in ptrs.tolist()], np.int64)
        return dict(ptrs=ptrs, sizes=sizes,
                    modes=self.images['mode'].astype(np.int32),
                    heights=self.images['height'].astype(np.int32),
                    widths=self.images['width'].astype(np.int32),
                    labels=self.labels.astype(np.int64).reshape(-1),
                    crcs=self.images['crc32'].astype(np.uint32))

    def raw_bytes(self, index):
        ptr = int(self.images[index]['data_ptr'])
        return np.fromfile(self.path, np.uint8, count=self._sizes[ptr],
                           offset=ptr)

    def corrupt_records(self, progress=False):
        """Indices of the records whose bytes fail their CRC-32."""
        from tqdm import tqdm
        table = self.table()
        data = np.memmap(self.path, np.uint8, mode='r')
        bad = []
        for i in tqdm(range(len(self)), desc='verifying', unit='record',
                      disable=not progress):
            if not record_is_intact(table, data, i):
                bad.append(i)
        return bad

    def __getitem__(self, index):
        from .field import RAW
        rec = self.images[index]
        data = self.raw_bytes(index)
        if zlib.crc32(data) != int(rec['crc32']):
            raise CorruptRecordError(self.path, index, 'checksum mismatch')
        h, w, mode = int(rec['height']), int(rec['width']), int(rec['mode'])
        if mode == RAW:
            if data.size < h * w * 3:
                raise CorruptRecordError(self.path, index, 'too short')
            image = data[:h * w * 3].reshape(h, w, 3)
        else:
            # A header claiming more pixels than the record index would
            # make the decoder allocate that much.
            if encoded_size(data) != (h, w):
                raise CorruptRecordError(
                    self.path, index, f'its header says {encoded_size(data)}'
                    f' (h, w), its index {(h, w)}')
            image = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR),
                                 cv2.COLOR_BGR2RGB)
        return image, int(self.labels[index]), mode
