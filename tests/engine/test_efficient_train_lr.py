"""EfficientTrainLR: EfficientTrain++'s LR as an MMEngine parameter scheduler."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner

from mmeff.engine.curricula import cosine_lr_factor, efficienttrain_schedule
from mmeff.engine.schedulers import EfficientTrainLR
from tests.helpers.tools import REPO


class _LRRecorder(Hook):
    priority = 'HIGHEST'  # before ParamSchedulerHook steps past this iter

    def __init__(self):
        self.lrs = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.lrs.append(runner.optim_wrapper.get_lr()['lr'][0])


def test_lr_per_iteration_equals_the_former_hook_formula(tiny_image_folder,
                                                         tmp_path):
    cfg = Config.fromfile(
        osp.join(REPO, 'tests/configs/mae_tiny_efficienttrain.py'))
    cfg.train_dataloader.dataset.data_root = tiny_image_folder
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.custom_hooks = cfg.custom_hooks[:2]
    cfg.default_hooks.checkpoint.interval = 100
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    recorder = _LRRecorder()
    runner.register_hook(recorder)
    runner.train()
    # What EfficientTrainHook wrote into param_groups before each iteration:
    # base * cosine_lr_factor(fraction(epoch, batch / per_epoch), warmup).
    plan = efficienttrain_schedule(**cfg.plan)
    per_epoch, base = 5, cfg.optim_wrapper.optimizer.lr
    former = [base * cosine_lr_factor(plan.fraction(e, b / per_epoch), 0.1)
              for e in range(plan.total_epochs) for b in range(per_epoch)]
    assert len(recorder.lrs) == 25
    assert recorder.lrs == pytest.approx(former, rel=1e-12, abs=0)


def _scheduler(**kwargs):
    param = torch.nn.Parameter(torch.zeros(1))
    wrapper = OptimWrapper(torch.optim.SGD([param], lr=4e-3))
    return wrapper, EfficientTrainLR.build_iter_from_epoch(
        wrapper, epoch_length=10, **kwargs)


def test_reference_lr_is_the_released_warmup_and_min_lr():
    # _ET_pp_main_swinT.py: --warmup_epochs 20 of the stretched run,
    # main_buffer.py: --min_lr 1e-6.
    _, swin = _scheduler(budget_epochs=200, full_size=224, preset='swin',
                         reference=True)
    assert swin.eta_min == 1e-6
    assert swin.warmup == pytest.approx(20 * (96 / 224)**2 /
                                        swin.schedule.total_cost)
    # _ET_pp_main_deitS.py: warm-up 0.2 * epoch * epoch_scale_ratio, i.e.
    # 0.2 of the stretched run at every stage.
    _, deit = _scheduler(budget_epochs=200, full_size=224, preset='deit',
                         reference=True)
    assert (deit.warmup, deit.eta_min) == (0.2, 1e-6)


def test_reference_lr_ends_at_min_lr():
    wrapper, sched = _scheduler(budget_epochs=2, full_size=224,
                                preset='deit', reference=True)
    steps = sched.schedule.total_epochs * 10
    for _ in range(steps - 1):
        sched.step()
    last = sched.fraction(steps - 1)
    assert wrapper.get_lr()['lr'][0] == pytest.approx(
        4e-3 * cosine_lr_factor(last, 0.2, 1e-6 / 4e-3))
    assert 4e-3 * cosine_lr_factor(1.0, 0.2, 1e-6 / 4e-3) == \
        pytest.approx(1e-6)


def test_reference_needs_a_released_preset():
    with pytest.raises(ValueError, match='reference=True needs a preset'):
        _scheduler(budget_epochs=2, full_size=32, stages=[(0.0, 16)],
                   reference=True)
