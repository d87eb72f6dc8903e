"""Every error mmeff raises on purpose is an ``MMEffError`` and still the
built-in type it always was, so old ``except`` clauses keep working."""
import importlib
import inspect
import pkgutil

import pytest

import mmeff
from mmeff.errors import MissingExtraError, MMEffError, import_extra

# Each mmeff error and the built-in type callers have been catching it as.
BUILT_IN_BASE = {
    'CheckpointError': RuntimeError,
    'CondenseError': ValueError,
    'ConfigError': ValueError,
    'CorruptRecordError': ValueError,
    'DatasetError': ValueError,
    'ESSLFileError': ValueError,
    'ESSLWriteError': ValueError,
    'ExportError': ValueError,
    'MissingExtraError': ImportError,
    'NoBatchNormError': ValueError,
    'NonFiniteLossError': RuntimeError,
    'OutputDirError': ValueError,
    'OutputExistsError': ValueError,
    'OutputRaceError': FileExistsError,
    'ScheduleError': ValueError,
    'WorkerFailure': RuntimeError,
}


def _mmeff_exception_classes():
    found = {}
    for info in pkgutil.walk_packages(mmeff.__path__, 'mmeff.'):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException)
                    and obj.__module__.startswith('mmeff.')):
                found[name] = obj
    return found


def test_every_mmeff_exception_is_an_mmeff_error_and_its_old_type():
    found = _mmeff_exception_classes()
    found.pop('MMEffError')
    assert sorted(found) == sorted(BUILT_IN_BASE)
    for name, cls in found.items():
        # Classes, not instances: some take more than a message.
        assert issubclass(cls, MMEffError), name
        assert issubclass(cls, BUILT_IN_BASE[name]), name


def test_an_old_except_clause_still_catches_the_error():
    from mmeff.data import DatasetError
    with pytest.raises(ValueError, match='no images'):
        raise DatasetError('no images')
    with pytest.raises(MMEffError, match='no images'):
        raise DatasetError('no images')


def test_a_missing_extra_names_the_extra_in_one_line():
    with pytest.raises(MissingExtraError) as info:
        import_extra('mmeff_no_such_module', 'ffcv', 'The ESSL loader')
    message = str(info.value)
    assert '\n' not in message
    assert message == (
        'The ESSL loader needs mmeff_no_such_module, which is not installed: '
        "install mmeff's [ffcv] extra (pip install 'mmeff[ffcv]')")
    assert isinstance(info.value, ImportError)
