"""Random access to single ESSL records, decoded in full (inspection, tests).

Training reads through :class:`ESSLLoader`; this is the plain reference path:
the record's bytes straight from the file, decoded by OpenCV.
"""
import cv2
import numpy as np


class ESSLRecords:
    """``records[i] -> (RGB uint8 array, label, mode)`` of an ESSL file."""

    def __init__(self, path):
        from ._ffcv import import_ffcv
        import_ffcv()
        from ffcv.reader import Reader

        from . import field  # noqa: F401  registers the field type
        self.path = path
        self.reader = Reader(path)
        names = self.reader.field_names
        meta = self.reader.metadata
        self.images = meta[f'f{names.index("image")}']
        self.labels = meta[f'f{names.index("label")}']  # IntField: plain int64
        table = self.reader.alloc_table
        self._sizes = dict(zip(table['ptr'].tolist(), table['size'].tolist()))

    def __len__(self):
        return int(self.reader.num_samples)

    def table(self):
        """Per-record arrays the compiled loader reads: ``ptrs``, ``sizes``
        (bytes), ``modes``, ``heights``, ``widths`` and ``labels``."""
        ptrs = self.images['data_ptr'].astype(np.int64)
        sizes = np.array([self._sizes[p] for p in ptrs.tolist()], np.int64)
        return dict(ptrs=ptrs, sizes=sizes,
                    modes=self.images['mode'].astype(np.int32),
                    heights=self.images['height'].astype(np.int32),
                    widths=self.images['width'].astype(np.int32),
                    labels=self.labels.astype(np.int64).reshape(-1))

    def raw_bytes(self, index):
        ptr = int(self.images[index]['data_ptr'])
        return np.fromfile(self.path, np.uint8, count=self._sizes[ptr],
                           offset=ptr)

    def __getitem__(self, index):
        from .field import RAW
        rec = self.images[index]
        data = self.raw_bytes(index)
        h, w, mode = int(rec['height']), int(rec['width']), int(rec['mode'])
        if mode == RAW:
            image = data[:h * w * 3].reshape(h, w, 3)
        else:
            image = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR),
                                 cv2.COLOR_BGR2RGB)
        return image, int(self.labels[index]), mode
