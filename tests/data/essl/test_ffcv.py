"""FFCV is reached through mmeff/data/essl/_ffcv.py only, behind a version
check."""
import ast
import os.path as osp
from pathlib import Path

import pytest

import mmeff

PACKAGE = Path(osp.dirname(mmeff.__file__))


def _ffcv_imports(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or '']
        else:
            continue
        if any(n == 'ffcv' or n.startswith('ffcv.') for n in names):
            yield node.lineno


def test_only_the_ffcv_module_imports_ffcv():
    importers = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob('*.py')
                 if any(_ffcv_imports(p))}
    assert importers == {'data/essl/_ffcv.py'}


def test_another_ffcv_version_is_refused(monkeypatch):
    from mmeff.data.essl import _ffcv
    monkeypatch.setattr(_ffcv.metadata, 'version', lambda name: '1.1.0')
    with pytest.raises(ImportError, match=r'written against ffcv 1\.0\.2 '
                       r'.* but ffcv 1\.1\.0 is installed: install '
                       r'ffcv==1\.0\.2'):
        _ffcv._check_version()
