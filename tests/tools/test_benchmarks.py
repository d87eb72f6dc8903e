"""Every benchmark in tools/benchmarks runs on the one harness
(mmeff/apis/benchmarking.py) and reaches shared code as a module."""
import ast
from pathlib import Path

import pytest

from tests.helpers.tools import REPO

BENCHMARKS = sorted(Path(REPO, 'tools', 'benchmarks').glob('*.py'))


def _tree(path):
    return ast.parse(path.read_text(), str(path))


@pytest.mark.parametrize('path', BENCHMARKS, ids=lambda p: p.name)
def test_a_benchmark_uses_the_harness(path):
    imported = {node.module for node in ast.walk(_tree(path))
                if isinstance(node, ast.ImportFrom)}
    assert 'mmeff.apis.benchmarking' in imported


@pytest.mark.parametrize('path', BENCHMARKS, ids=lambda p: p.name)
def test_a_benchmark_does_not_reach_code_through_sys_path(path):
    uses = [node.lineno for node in ast.walk(_tree(path))
            if isinstance(node, ast.Attribute) and node.attr == 'path'
            and isinstance(node.value, ast.Name) and node.value.id == 'sys']
    assert uses == []
