"""The one module that imports FFCV: the names ESSL uses, behind a version
check, with each workaround for FFCV 1.0.2's behaviour in one place.

FFCV is unmaintained and its internals are not an API: a new version may
change any name below. Everything else in ``mmeff`` takes FFCV through this
module, so a version change is met here or refused here. Importing it is
deferred (the package imports it only when a file is written or read), so
projects on the stock torch DataLoader path never need FFCV.
"""
from importlib import metadata

import torch

from mmeff.errors import MissingExtraError, import_extra

FFCV_VERSION = '1.0.2'


def _check_version():
    try:
        version = metadata.version('ffcv')
    except metadata.PackageNotFoundError:
        raise MissingExtraError(
            f'ESSL storage needs ffcv {FFCV_VERSION}, which is not installed: '
            "install mmeff's [ffcv] extra (tools/setup_env.sh builds it)"
        ) from None
    if version != FFCV_VERSION:
        raise ImportError(
            f'ESSL storage is written against ffcv {FFCV_VERSION} (its file '
            f'layout and pipeline internals), but ffcv {version} is '
            f'installed: install ffcv=={FFCV_VERSION}')


_check_version()

# Workaround: ffcv.pipeline.compiler calls torch.set_num_threads(1) when
# first imported. Without restoring the count, every process that touched
# ESSL storage would train its model on one core.
_threads = torch.get_num_threads()
import_extra('ffcv', 'ffcv', 'ESSL storage')  # installed but not importable
from ffcv.fields import IntField, RGBImageField  # noqa: E402
from ffcv.fields.base import ARG_TYPE  # noqa: E402
from ffcv.reader import Reader  # noqa: E402
from ffcv.types import ALLOC_TABLE_TYPE, CURRENT_VERSION, TYPE_ID_HANDLER, HeaderType  # noqa: E402
from ffcv.writer import DatasetWriter  # noqa: E402

torch.set_num_threads(_threads)

__all__ = [
    'ALLOC_TABLE_TYPE', 'ARG_TYPE', 'CURRENT_VERSION', 'DatasetWriter',
    'HeaderType', 'IntField', 'RGBImageField', 'Reader', 'register_field'
]


def register_field(type_id, field_cls):
    """Make ``field_cls`` the handler of ``type_id`` in FFCV's global table.

    Workaround: FFCV finds a field's class only through ``TYPE_ID_HANDLER``.
    Its writer stores the id of the class it is given (255, "custom",
    for an unlisted class) and its reader then refuses a custom field
    without a handler, so an unregistered field writes files nobody reads.
    """
    TYPE_ID_HANDLER[type_id] = field_cls

