"""DailyMAE's recipe as one config family with three one-field toggles.

DailyMAE (Wu et al., "DailyMAE: Towards Pretraining Masked Autoencoders in
One Day", 2024) makes MAE pretraining fast by combining a faster loader
(ESSL: tuned FFCV storage + crop decode) with a progressive-resolution
schedule. mmeff composes that with EMAE (Li et al., "Efficient Masked
Autoencoders with Self-Consistency", 2023) and, as an alternative curriculum,
EfficientTrain++ (Wang et al., "EfficientTrain++: Generalized Curriculum
Learning for Efficient Visual Backbone Training", TPAMI 2024).

A DailyMAE config (``configs/dailymae/``) declares

* ``dailymae = dict(essl=True, algorithm='emae', curriculum='palindrome')``,
  the toggles, each settable with ``--cfg-options dailymae.essl=False`` etc.;
* ``dailymae_components = dict(loader=dict(essl=..., stock=...),
  model=dict(mae=..., emae=...), curriculum=dict(palindrome=...,
  efficienttrain=...))``: every alternative, written out as a config fragment.

:func:`resolve_dailymae` merges the chosen fragments onto the config with
MMEngine's own rules (dicts key by key, ``_delete_=True`` replaces, other
lists replace), except that ``custom_hooks`` are appended, so hooks of the
base config and of the user (probes, recorders) stay. Curriculum hooks any
alternative declares are first removed, so ``curriculum=None`` really means no
curriculum. The result is a plain config that trains by itself (it is what
MMEngine dumps into the work dir): ``dailymae_components`` is dropped and the
choice is kept as ``dailymae_resolved``.

The runner lives in ``mmeff/engine/runners/`` (not next to ``ESSLRunner``)
because it composes loader, model and hooks, not only the data side.
"""
import copy
import os.path as osp

from mmengine.config import ConfigDict
from mmpretrain.registry import RUNNERS

from mmeff.data.checks import DatasetError, check_data_paths
from mmeff.data.essl.runner import ESSLRunner
from mmeff.engine.config import ConfigError, strip_collate_scope

TOGGLES = ('essl', 'algorithm', 'curriculum')


def _plain(value):
    return value.to_dict() if isinstance(value, ConfigDict) else value


def _fmt(values):
    return ', '.join(repr(v) for v in values)


def dailymae_choice(cfg):
    """The validated toggles: ``dict(essl, algorithm, curriculum)``.

    Raises:
        ConfigError: a toggle is missing, unknown, or has a value no
            alternative is declared for (one line naming field and values).
    """
    toggles = cfg.get('dailymae')
    if not isinstance(toggles, dict):
        raise ConfigError('DailyMAERunner needs a `dailymae = dict(essl=..., '
                          'algorithm=..., curriculum=...)` section')
    unknown = sorted(set(toggles) - set(TOGGLES))
    if unknown:
        raise ConfigError(f'dailymae.{unknown[0]}: unknown toggle; the '
                          f'toggles are {", ".join(TOGGLES)}')
    missing = [t for t in TOGGLES if t not in toggles]
    if missing:
        raise ConfigError(f'dailymae.{missing[0]} is not set; the toggles '
                          f'are {", ".join(TOGGLES)}')
    essl, algorithm, curriculum = (toggles[t] for t in TOGGLES)
    if not isinstance(essl, bool):
        raise ConfigError(f'dailymae.essl={essl!r}: choose from True, False')
    # `--cfg-options dailymae.curriculum=none` arrives as a string.
    if isinstance(curriculum, str) and curriculum.lower() == 'none':
        curriculum = None
    components = cfg.get('dailymae_components')
    if components is not None:
        _check_components(components)
        for name, value, allowed in (
                ('algorithm', algorithm, sorted(components['model'])),
                ('curriculum', curriculum,
                 [None] + sorted(components['curriculum']))):
            if value not in allowed:
                raise ConfigError(f'dailymae.{name}={value!r}: choose from '
                                  f'{_fmt(allowed)}')
    return dict(essl=essl, algorithm=algorithm, curriculum=curriculum)


def _check_components(components):
    for entry, keys in (('loader', ('essl', 'stock')), ('model', ()),
                        ('curriculum', ())):
        if not isinstance(components.get(entry), dict) or any(
                k not in components[entry] for k in keys):
            raise ConfigError(f'dailymae_components.{entry} must be a dict '
                              f'of alternatives{" with " if keys else ""}'
                              f'{_fmt(keys)}')


def _curriculum_hook_types(components):
    return {hook['type'] for fragment in components['curriculum'].values()
            for hook in fragment.get('custom_hooks', [])}


def _merge(cfg, fragment):
    fragment = copy.deepcopy(_plain(fragment))
    hooks = fragment.pop('custom_hooks', [])
    cfg.merge_from_dict(ConfigDict(fragment), allow_list_keys=False)
    if hooks:
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + hooks


def resolve_dailymae(cfg):
    """Merge the alternatives the toggles pick onto ``cfg`` (in place).

    Order: loader, then model (which sets the batch size on the chosen
    loader), then curriculum (which may own ``train_cfg.max_epochs`` and the
    LR schedule). A config resolved before (no ``dailymae_components``) is
    returned as is if its toggles still match ``dailymae_resolved``.

    Returns:
        Config: ``cfg``.
    """
    choice = dailymae_choice(cfg)
    components = cfg.get('dailymae_components')
    if components is None:
        resolved = cfg.get('dailymae_resolved')
        if resolved is None:
            raise ConfigError('DailyMAERunner needs `dailymae_components`: '
                              'the alternatives the toggles pick from')
        if dict(resolved) != choice:
            raise ConfigError(
                f'this config was already resolved for {dict(resolved)}; '
                'set the toggles on the source config in configs/dailymae/')
        return cfg
    drop = _curriculum_hook_types(components)
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks') or []
                        if h.get('type') not in drop]
    picks = [components['loader']['essl' if choice['essl'] else 'stock'],
             components['model'][choice['algorithm']]]
    if choice['curriculum'] is not None:
        picks.append(components['curriculum'][choice['curriculum']])
    for fragment in picks:
        _merge(cfg, fragment)
    cfg.pop('dailymae_components')
    cfg.dailymae = dict(choice)
    cfg.dailymae_resolved = dict(choice)
    return strip_collate_scope(cfg)


def check_train_data(cfg):
    """Fail with one line when the chosen loader's data is missing."""
    loader = cfg.get('train_dataloader') or {}
    if loader.get('type') == 'ESSLLoader':
        path = loader.get('path')
        if isinstance(path, str) and not osp.isfile(path):
            raise DatasetError(
                f'ESSL file not found: {path} (write it with tools/'
                'dataset_converters/essl_writer.py, or train from the image '
                'folders with --cfg-options dailymae.essl=False)')
    else:
        check_data_paths(cfg, ('train_dataloader', ))


@RUNNERS.register_module()
class DailyMAERunner(ESSLRunner):
    """An :class:`ESSLRunner` that first resolves the DailyMAE toggles.

    ``runner_type = 'mmpretrain.DailyMAERunner'`` (scoped, so MMEngine's root
    registry, which MMPretrain's tools use, finds it). Works through every
    tool that honours ``runner_type`` (mmeff's and MMPretrain's
    ``tools/train.py``, ``tools/dist_train.sh``); mmeff's tools resolve
    before their data checks (:meth:`resolve_config`).
    """

    @staticmethod
    def resolve_config(cfg):
        return resolve_dailymae(cfg)

    @classmethod
    def from_cfg(cls, cfg):
        cfg = resolve_dailymae(copy.deepcopy(cfg))
        check_train_data(cfg)
        runner = super().from_cfg(cfg)
        runner.logger.info('DailyMAE: ' + ', '.join(
            f'{k}={v!r}' for k, v in cfg.dailymae_resolved.items()))
        return runner
