"""What the README and docs/ show a user runs as shown.

Every ```python block in README.md and docs/*.md is a config snippet:

- one whose first line is a comment naming a config file
  (``# configs/....py``) is an excerpt: the file exists and holds the
  snippet's lines, and the file is what gets checked below;
- any other is parsed as written by MMEngine's ``Config`` (which also runs
  its ``custom_imports``), from a folder outside the repository.

Of each, the model it describes is built, and every loader: an ESSL loader
on a small ESSL file (its batch read and checked), a torch loader's
pipeline transform by transform; a config with a model and an ESSL loader
must pass the Runner's ESSL checks. Every ``configs/...py`` path named in
README.md, docs/ and tools/ must exist.
"""
import copy
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

from tests.helpers.tools import REPO

DOCS = ['README.md', *sorted(
    osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'docs', '*.md')))]
EXCERPT = re.compile(r'# ((?:tests/)?configs/\S+\.py)\n')
CONFIG_PATH = re.compile(r'(?<![\w/.-])((?:tests/)?configs/[\w./{},+-]*?\.py)\b')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _snippets():
    for doc in DOCS:
        with open(osp.join(REPO, doc)) as f:
            text = f.read()
        for match in re.finditer(r'^```python\n(.*?)^```', text, re.S | re.M):
            line = text.count('\n', 0, match.start()) + 1
            yield pytest.param(match.group(1), id=f'{doc}:{line}')


def _load(snippet, tmp_path):
    excerpt = EXCERPT.match(snippet)
    if excerpt is None:
        path = tmp_path / 'snippet.py'
        path.write_text(snippet)
        return Config.fromfile(str(path))
    path = osp.join(REPO, excerpt.group(1))
    assert osp.isfile(path), f'{excerpt.group(1)} does not exist'
    with open(path) as f:
        assert snippet[excerpt.end():].strip() in f.read(), \
            f'the snippet differs from {excerpt.group(1)}'
    return Config.fromfile(path)


def _merged(loader_cfg):
    """A snippet's dict as MMEngine merges it into its base: without the
    ``_delete_`` marker (which a fragment keeps, having no base)."""
    return {k: _merged(v) if isinstance(v, dict) else copy.deepcopy(v)
            for k, v in loader_cfg.items() if k != '_delete_'}


def _check_essl_loader(loader_cfg, beton):
    from mmeff.data.essl import build_essl_loader
    loader_cfg = dict(_merged(loader_cfg), path=beton, batch_size=4,
                      num_workers=1)
    loader = build_essl_loader(loader_cfg, seed=0)
    batch = next(iter(loader))
    size = loader_cfg['decoder']['scale']
    assert tuple(batch['inputs'].shape) == (4, 3, size, size)
    assert len(batch['data_samples']) == 4


def _check_torch_loader(loader_cfg):
    from mmpretrain.registry import TRANSFORMS
    for transform in loader_cfg.get('dataset', {}).get('pipeline', []):
        TRANSFORMS.build(copy.deepcopy(transform))


@pytest.mark.parametrize('snippet', list(_snippets()))
def test_every_config_snippet_parses_and_builds(snippet, tmp_path,
                                                fmnist_beton):
    from mmpretrain.registry import MODELS

    from mmeff.data.essl.runner import check_essl_config, essl_loader_names
    cfg = _load(snippet, tmp_path)
    essl = essl_loader_names(cfg)
    if isinstance(cfg.get('model'), dict):
        MODELS.build(copy.deepcopy(cfg.model))
        if essl:
            check_essl_config(cfg)
    for name in LOADERS:
        if name in essl:
            _check_essl_loader(cfg[name], fmnist_beton)
        elif isinstance(cfg.get(name), dict):
            _check_torch_loader(cfg[name])


def test_the_readme_holds_a_complete_essl_emae_curriculum_config(tmp_path):
    """The config a user copies into a project has every switch."""
    snippets = [p.values[0] for p in _snippets()
                if p.id.startswith('README.md:')]
    complete = [s for s in snippets if '_base_' in s]
    assert len(complete) == 1
    cfg = _load(complete[0], tmp_path)
    assert cfg.custom_imports == dict(imports=['mmeff'],
                                      allow_failed_imports=False)
    assert cfg.runner_type == 'mmpretrain.ESSLRunner'
    assert cfg.model.type == 'EMAE'
    assert cfg.train_dataloader.type == 'ESSLLoader'
    assert cfg.data_preprocessor.to_rgb is False
    assert any(h.type in ('ProgressiveResolutionHook', 'EfficientTrainHook')
               for h in cfg.custom_hooks)


def _expand(path):
    """``a/{b,c}.py`` -> ``a/b.py``, ``a/c.py``."""
    brace = re.search(r'\{([^{}]*)\}', path)
    if brace is None:
        return [path]
    return [p for alt in brace.group(1).split(',')
            for p in _expand(path[:brace.start()] + alt + path[brace.end():])]


def test_every_config_path_named_in_readme_docs_and_tools_exists():
    files = DOCS + sorted(
        osp.relpath(p, REPO) for pattern in ('*.py', '*.sh')
        for p in glob.glob(osp.join(REPO, 'tools', '**', pattern),
                           recursive=True))
    missing = []
    for name in files:
        with open(osp.join(REPO, name)) as f:
            text = f.read()
        missing += [f'{name}: {path}' for match in CONFIG_PATH.finditer(text)
                    for path in _expand(match.group(1))
                    if not osp.exists(osp.join(REPO, path))]
    assert missing == []


def test_readme_is_a_product_page():
    with open(osp.join(REPO, 'README.md')) as f:
        text = f.read()
    assert len(text.encode()) <= 20 * 1024
    assert text.index('## Installation') < text.index('## Quickstart') \
        < text.index('| field | meaning | measured |')
    # The two opening commands, as MMPretrain users meet them.
    assert text.startswith('# mmeff\n\n```bash\nbash tools/quickstart.sh ')
    assert '\nbash tools/run_tests.sh ' in text[:300]
    linked = set(re.findall(r'\]\((docs/\w+\.md)', text))
    pages = {osp.relpath(p, REPO)
             for p in glob.glob(osp.join(REPO, 'docs', '*.md'))}
    assert pages - linked == set()  # every docs page is reachable


def test_every_relative_link_in_readme_and_docs_points_at_a_file():
    broken = []
    for doc in DOCS:
        with open(osp.join(REPO, doc)) as f:
            text = f.read()
        for target in re.findall(r'\]\(([^)\s]+)\)', text):
            if target.startswith(('http://', 'https://', '#')):
                continue
            path = osp.join(REPO, osp.dirname(doc), target.split('#')[0])
            if not osp.exists(path):
                broken.append(f'{doc}: {target}')
    assert broken == []
