"""Each plain DailyMAE config trains with the config its toggles resolved to.

The JSON files in dailymae_resolved/ are what the retired toggle resolver
(``dailymae = dict(essl=..., algorithm=..., curriculum=...)`` merged by
``DailyMAERunner``) handed the Runner for each combination. The plain
configs must give the Runner the same config, up to key order.
"""
import glob
import json
import os.path as osp

import pytest

from mmeff.engine.config import load_config
from tests.helpers.tools import REPO

RESOLVED = osp.join(osp.dirname(osp.abspath(__file__)), 'dailymae_resolved')
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs/dailymae/dailymae_*.py')))
SCALES = ('vit-tiny-p4_1xb64-10e_fashion-mnist', 'vit-b-p16_8xb512-800e_in1k')
DEFAULT = 'emae-essl-palindrome'
# The alternatives a scale file offers its configs ({{_base_.name}}): inert
# top-level variables, read by no Runner or hook.
ALTERNATIVES = {
    'mae_model', 'emae_model', 'emae_num_parts', 'mae_batch_size',
    'emae_batch_size', 'emae_auto_scale_lr', 'stock_loader',
    'palindrome_hook', 'efficienttrain', 'efficienttrain_hook',
    'efficienttrain_lr', 'efficienttrain_epochs', 'num_gpus'}


def lr_moved_to_a_scheduler(before):
    """The one intended change: EfficientTrain++'s LR left the hook.

    Before, ``EfficientTrainHook(warmup=...)`` wrote the LR and the config
    had no ``param_scheduler``; now ``EfficientTrainLR`` over the hook's
    plan does, with the same warm-up (same LR per iteration:
    tests/engine/test_efficient_train_lr.py).
    """
    hook = before['custom_hooks'][-1]
    assert hook['type'] == 'EfficientTrainHook' and \
        before['param_scheduler'] == []
    plan = {k: hook[k] for k in ('budget_epochs', 'full_size', 'preset',
                                 'stages') if k in hook}
    before['param_scheduler'] = [dict(
        type='EfficientTrainLR', convert_to_iter_based=True,
        warmup=hook.pop('warmup'), **plan)]
    return before


def reference_name(config):
    """``dailymae_<scale>[_<algorithm>-<loader>-<curriculum>].py`` -> JSON."""
    name = osp.basename(config)[len('dailymae_'):-len('.py')]
    for scale in SCALES:
        if name == scale:
            return f'{scale}_{DEFAULT}.json'
        if name.startswith(scale + '_'):
            return name + '.json'
    raise AssertionError(f'{config}: not named after a DailyMAE scale')


def plain(value):
    return json.loads(json.dumps(value))


def test_every_published_combination_has_a_config():
    names = {reference_name(c) for c in CONFIGS}
    published = {f'{s}_{c}.json' for s in SCALES for c in (
        DEFAULT, 'mae-essl-palindrome', 'mae-stock-none',
        'emae-essl-efficienttrain')}
    published |= {f'{SCALES[0]}_{c}.json' for c in (
        'mae-essl-none', 'mae-essl-efficienttrain')}
    assert names == published


@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_config_equals_the_resolved_toggles(config):
    with open(osp.join(RESOLVED, reference_name(config))) as f:
        before = json.load(f)
    for key in ('dailymae', 'dailymae_resolved'):
        before.pop(key)
    # DailyMAERunner was an ESSLRunner that resolved first; nothing is left
    # to resolve.
    assert before.pop('runner_type') == 'mmpretrain.DailyMAERunner'
    if config.endswith('-efficienttrain.py'):
        before = plain(lr_moved_to_a_scheduler(before))
    after = plain(load_config(config).to_dict())
    assert after.pop('runner_type') == 'mmpretrain.ESSLRunner'
    assert set(after) - set(before) <= ALTERNATIVES
    assert {k: after[k] for k in before} == before
