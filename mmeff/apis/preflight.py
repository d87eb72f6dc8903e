"""Checks the training tools run before and around a run, each failing in
one line: overrides of the wrong type, registry typos, masking ratios any
MAE-style backbone would train on silently, and a resume from another
model's checkpoint."""
import ast
import difflib
import re

from mmeff.engine.checkpoint import CheckpointError
from mmeff.engine.config import ConfigError

_MISSING = object()


def _lookup(cfg, dotted):
    node = cfg
    for part in dotted.split('.'):
        if isinstance(node, (list, tuple)):
            if not part.isdigit() or int(part) >= len(node):
                return _MISSING
            node = node[int(part)]
        elif hasattr(node, 'keys') and part in node:  # dict, Config
            node = node[part]
        else:
            return _MISSING
    return node


def check_override_types(cfg, options):
    """Refuse ``--cfg-options key=value`` whose value is text where the
    config holds a number or a flag (``train_cfg.max_epochs=abc``), which
    would otherwise fail deep inside the run."""
    for key, value in (options or {}).items():
        old = _lookup(cfg, key)
        if old is _MISSING or old is None or not isinstance(value, str):
            continue
        if isinstance(old, bool):
            wanted = 'True or False'
        elif isinstance(old, (int, float)):
            wanted = 'a number'
        else:
            continue
        raise ConfigError(f'--cfg-options {key}={value}: expected {wanted} '
                          f'(the config has {old!r})')


_NOT_REGISTERED = re.compile(r'([\w.]+) is not in the ([\w:]+) registry')


def registry_typo_message(err):
    """One line with a "did you mean" for MMEngine's KeyError of an
    unregistered type, or ``None`` for any other KeyError."""
    found = _NOT_REGISTERED.search(str(err.args[0]) if err.args else '')
    if found is None:
        return None
    name, where = found.groups()
    scope, _, kind = where.rpartition('::')
    known = _registered_names(kind)
    close = [k for k in known if k.lower() == name.lower()] or \
        difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ''
    return f"type '{name}' is not a registered {kind}{hint}"


def _registered_names(kind):
    """Every name registered in the ``kind`` registries mmeff's configs
    reach (mmpretrain's and, through it, MMEngine's)."""
    from mmengine.registry import Registry
    from mmpretrain import registry as mmpretrain_registry
    names = set()
    for value in vars(mmpretrain_registry).values():
        reg = value
        while isinstance(reg, Registry):
            if reg.name == kind:
                names.update(reg.module_dict)
            reg = reg.parent
    return sorted(names)


def check_mask_ratios(model):
    """Any module with a ``mask_ratio`` (upstream ``MAEViT`` included) must
    keep at least one patch visible and one masked."""
    from mmeff.models.backbones.var_res_mae_vit import check_mask_ratio
    for name, module in model.named_modules():
        ratio = getattr(module, 'mask_ratio', None)
        grid = getattr(module, 'patch_resolution', None)
        if ratio is None or grid is None:
            continue
        try:
            check_mask_ratio(ratio, int(grid[0]) * int(grid[1]))
        except ConfigError as err:
            raise ConfigError(f'model.{name}: {err}') from None


def saved_model_type(meta):
    """The ``model.type`` of the config text a checkpoint's ``meta['cfg']``
    holds (read with :mod:`ast`: the text is never executed)."""
    text = meta.get('cfg') if isinstance(meta, dict) else None
    if not isinstance(text, str):
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                getattr(t, 'id', None) == 'model' for t in node.targets):
            return _type_of(node.value)
    return None


def _type_of(node):
    pairs = []
    if isinstance(node, ast.Call):
        pairs = [(k.arg, k.value) for k in node.keywords]
    elif isinstance(node, ast.Dict):
        pairs = [(getattr(k, 'value', None), v)
                 for k, v in zip(node.keys, node.values)]
    for key, value in pairs:
        if key == 'type' and isinstance(value, ast.Constant):
            return str(value.value)
    return None


def _short(type_name):
    return str(type_name).rpartition('.')[2]


def check_resume_matches(runner, cfg):
    """Refuse to resume a checkpoint of another model: its ``model.type``
    or its parameters' names and shapes differ from the config's."""
    path = cfg.get('load_from')
    if not cfg.get('resume') or not path or '://' in str(path):
        return
    from mmeff.engine.checkpoint import load_local_checkpoint
    ckpt = load_local_checkpoint(path, map_location='cpu', mmap=True)
    saved = saved_model_type(ckpt.get('meta'))
    wanted = (cfg.get('model') or {}).get('type')
    if saved and wanted and _short(saved) != _short(wanted):
        raise CheckpointError(
            f"--resume {path}: the checkpoint's model type is {saved}, the "
            f"config's is {wanted}; resume with the config it was trained "
            'with (load_from= without --resume only initialises weights)')
    model = getattr(runner.model, 'module', runner.model)
    theirs = ckpt.get('state_dict', {})
    ours = model.state_dict()
    differ = sorted(k for k in set(ours) | set(theirs)
                    if k not in ours or k not in theirs
                    or tuple(ours[k].shape) != tuple(theirs[k].shape))
    if differ:
        raise CheckpointError(
            f'--resume {path}: {len(differ)} parameters differ in name or '
            f'shape from the config\'s model (first: {differ[0]}); resume '
            'with the config it was trained with')
