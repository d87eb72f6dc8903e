"""An opt-in compiled step: eager's losses, one graph per input shape.

MAE runs through inductor (generated C++ kernels, so the losses agree to
float32 rounding). EMAE with checkpointed part chunks and the
EfficientTrain++ run use the ``aot_eager`` backend: the same capture,
guards and recompiles (dynamo) and derived backward (AOTAutograd), without
code generation, which on a 2-core host takes most of a minute per graph.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from tests.helpers.tools import REPO

CONFIGS = osp.join(REPO, 'tests', 'configs')


def losses(config, work_dir, data_root, compiled, backend='inductor',
           **changes):
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = 'compiled_step' + str(work_dir).replace('/', '_')
    cfg.default_hooks.checkpoint = None
    cfg.merge_from_dict(changes)
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] != 'InputSizeRecorderHook']
    if compiled:
        torch._dynamo.reset()  # the graph limit counts per process
        cfg.compile = dict(dynamic=False, backend=backend)
        cfg.custom_hooks.append(dict(type='CompiledStepHook', max_graphs=4))
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    graphs = hub.log_scalars['train/compiled_graphs'].data[0].tolist() \
        if compiled else None
    return hub.log_scalars['train/loss'].data[0], graphs


@pytest.mark.parametrize('config,backend,changes', [
    ('mae_tiny_user.py', 'inductor', dict(model=dict(
        backbone=dict(type='VarResMAEViT'),
        neck=dict(type='VarResMAEPretrainDecoder')))),
    ('emae_tiny_user.py', 'aot_eager', dict(model=dict(part_chunks=2))),
], ids=['mae_inductor', 'emae_part_chunks2'])
def test_compiled_losses_match_eager(config, backend, changes,
                                     tiny_image_folder, tmp_path):
    changes = dict(changes, train_cfg=dict(max_epochs=1))
    eager, _ = losses(config, tmp_path / 'eager', tiny_image_folder, False,
                      **changes)
    compiled, graphs = losses(config, tmp_path / 'compiled',
                              tiny_image_folder, True, backend, **changes)
    assert len(eager) == len(compiled) == 5
    # Same masks (eager's generator); inductor's fused kernels reorder the
    # float32 sums, so the losses agree to about 1e-5, not bit for bit.
    assert compiled.tolist() == pytest.approx(eager.tolist(), rel=1e-4)
    assert graphs[0] == graphs[-1]  # no recompile at a fixed size


def test_efficienttrain_compiles_once_per_bandwidth(tiny_image_folder,
                                                    tmp_path):
    # Bandwidths 8, 12, 16 for epochs (0, 1), (2, 3), (4): 5 iterations each.
    eager, _ = losses('mae_tiny_efficienttrain.py', tmp_path / 'eager',
                      tiny_image_folder, False)
    compiled, graphs = losses('mae_tiny_efficienttrain.py',
                              tmp_path / 'compiled', tiny_image_folder, True,
                              'aot_eager')
    assert compiled.tolist() == pytest.approx(eager.tolist(), rel=1e-4)
    new_graph_at = [i + 1 for i in range(1, len(graphs))
                    if graphs[i] != graphs[i - 1]]
    assert new_graph_at == [11, 21]
