"""Helpers for tests that damage copies of ESSL files."""
import shutil


def copy_beton(beton, tmp_path, name='c.beton'):
    """Copy ``beton`` and its sidecar into ``tmp_path``; the copy's path."""
    path = str(tmp_path / name)
    shutil.copy(beton, path)
    shutil.copy(beton + '.meta.json', path + '.meta.json')
    return path
