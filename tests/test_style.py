"""The code style the project holds itself to, checked on every test run.

Lint and import order follow MMPretrain's flake8 + isort setup, through
ruff (configured in ``pyproject.toml``); functions in the package stay short
enough to read in one screen.
"""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 80


def _tracked_python_files():
    listed = subprocess.run(['git', 'ls-files', '-z', '*.py'], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    return [name for name in listed.stdout.split('\0') if name]


def test_ruff_finds_nothing_in_any_tracked_file():
    # Named explicitly: ruff lints a named file even where a folder-wide
    # run would skip it, so an over-broad exclude cannot hide a package.
    files = _tracked_python_files()
    assert 'mmeff/data/essl/loader.py' in files
    result = subprocess.run(
        [sys.executable, '-m', 'ruff', 'check', '--no-cache', *files],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_excludes_only_the_top_level_outputs():
    """``data/``, ``work_dirs/`` and ``build/`` at the top are outputs;
    the packages' own ``data`` folders are code and are linted."""
    result = subprocess.run(
        [sys.executable, '-m', 'ruff', 'check', '--no-cache', '--show-files',
         '.'], cwd=ROOT, capture_output=True, text=True)
    shown = {Path(line).relative_to(ROOT).as_posix()
             for line in result.stdout.splitlines() if line.startswith('/')}
    assert set(_tracked_python_files()) <= shown


def _long_functions(package):
    for path in sorted(package.rglob('*.py')):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    yield f'{path.relative_to(ROOT)}:{node.lineno} ' \
                          f'{node.name} ({length} lines)'


def test_no_function_in_the_package_is_longer_than_80_lines():
    assert list(_long_functions(ROOT / 'mmeff')) == []


def _docs_layout():
    text = (ROOT / 'docs' / 'README.md').read_text()
    start = text.index('## Layout')
    return text[start:text.index('```', text.index('```', start) + 3)]


def test_docs_layout_names_every_package_and_tool_folder():
    layout = _docs_layout()
    packages = [p for p in (ROOT / 'mmeff').iterdir()
                if (p / '__init__.py').exists()]
    missing = [f'mmeff/{p.name}/' for p in packages
               if f'mmeff/{p.name}/' not in layout]
    missing += [f'{sub.name}/' for p in packages for sub in p.iterdir()
                if (sub / '__init__.py').exists()
                and f'{sub.name}/' not in layout]
    missing += [f'{d.name}/' for d in (ROOT / 'tools').iterdir()
                if d.is_dir() and not d.name.startswith(('_', '.'))
                and f'{d.name}/' not in layout]
    assert missing == []
