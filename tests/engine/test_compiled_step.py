"""An opt-in compiled step: eager's losses, one graph per input shape."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from tests.helpers.tools import REPO

CONFIGS = osp.join(REPO, 'tests', 'configs')


def losses(config, work_dir, data_root, compiled, **changes):
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'compiled_step_{osp.basename(work_dir)}'
    cfg.default_hooks.checkpoint = None
    cfg.merge_from_dict(changes)
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] != 'InputSizeRecorderHook']
    if compiled:
        cfg.compile = dict(dynamic=False)
        cfg.custom_hooks.append(dict(type='CompiledStepHook', max_graphs=4))
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    graphs = hub.log_scalars['train/compiled_graphs'].data[0].tolist() \
        if compiled else None
    return hub.log_scalars['train/loss'].data[0], graphs


@pytest.mark.parametrize('config,changes', [
    ('mae_tiny_user.py', dict(model=dict(
        backbone=dict(type='VarResMAEViT'),
        neck=dict(type='VarResMAEPretrainDecoder')))),
])
def test_compiled_losses_match_eager(config, changes, tiny_image_folder,
                                     tmp_path):
    changes = dict(changes, train_cfg=dict(max_epochs=1))
    eager, _ = losses(config, tmp_path / 'eager', tiny_image_folder, False,
                      **changes)
    compiled, graphs = losses(config, tmp_path / 'compiled',
                              tiny_image_folder, True, **changes)
    assert len(eager) == len(compiled) == 5
    # Same masks (eager's generator); inductor's fused kernels reorder the
    # float32 sums, so the losses agree to about 1e-5, not bit for bit.
    assert compiled.tolist() == pytest.approx(eager.tolist(), rel=1e-4)
    assert graphs[0] == graphs[-1]  # no recompile at a fixed size
