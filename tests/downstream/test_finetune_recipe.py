"""DailyMAE fine-tuning on ESSL storage, end to end with the real tools.

A quickstart-sized MAE checkpoint is exported for the tiny fine-tuning
config (configs/downstream/vit-tiny-p4_1xb64-dailymae-ft-20e_fashion-mnist_essl.py),
then ``tools/train.py`` fine-tunes it for two short epochs on ESSL files of
the bundled Fashion-MNIST subset: the backbone starts from the exported
weights, the resolution follows DailyMAE's ramp scaled to 32 px
(24 -> 28), and the validation loop reports accuracy. Needs no mmcv ops.
"""
import os.path as osp

import pytest
import torch

from tests.downstream.helpers import (
    FT_TINY,
    QUICKSTART_VIT,
    export_vit,
    mae_vit,
    pretraining_checkpoint,
)
from tests.helpers.tools import PYTHON, run_tool


@pytest.fixture(scope='module')
def essl_splits(tiny_image_folder, tmp_path_factory):
    """40 train / 20 val images of the bundled subset as raw ESSL records."""
    from mmeff.data.essl import write_essl
    root = tmp_path_factory.mktemp('essl_ft')
    paths = {}
    for split in ('train', 'val'):
        paths[split] = str(root / f'{split}.beton')
        write_essl(osp.join(tiny_image_folder, split), paths[split],
                   write_mode='raw', num_workers=1, progress=False)
    return paths


def test_tiny_recipe_finetunes_from_the_exported_backbone(essl_splits,
                                                          tmp_path, capsys):
    pre = pretraining_checkpoint(tmp_path / 'pre.pth',
                                 mae_vit(QUICKSTART_VIT, 32, 4))
    backbone = tmp_path / 'backbone.pth'
    assert export_vit(pre, backbone, '--target-config', FT_TINY) == 0
    capsys.readouterr()

    work = tmp_path / 'work'
    result = run_tool([
        PYTHON, 'tools/train.py', FT_TINY, '--work-dir', str(work),
        '--cfg-options', f'train_dataloader.path={essl_splits["train"]}',
        f'val_dataloader.path={essl_splits["val"]}',
        f'test_dataloader.path={essl_splits["val"]}',
        f'model.backbone.init_cfg.checkpoint={backbone}',
        'train_cfg.max_epochs=2', 'train_dataloader.batch_size=20',
        'val_dataloader.batch_size=20'])
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert f'load backbone. in model from: {backbone}' in log
    assert 'do not match exactly' not in log  # no missing/unexpected keys
    # DailyMAE's 160 -> 192 -> 224 scaled to 32 px; epoch 2 starts at 40%.
    assert 'Epoch(train) [1][2/2]' in log and 'resolution: 24' in log
    assert 'resolution: 28' in log
    assert 'Epoch(val) [2][1/1]' in log and 'accuracy/top1' in log

    # Four warm-up AdamW steps (each moves a weight by at most about its
    # lr, <= 1e-3 here) from the exported weights stay within 3e-3 of them;
    # the pretraining perturbation alone is ~1e-2 (helpers.py), a random
    # start further still.
    exported = torch.load(backbone, weights_only=True)['state_dict']
    trained = torch.load(work / 'epoch_2.pth', map_location='cpu',
                         weights_only=False)['state_dict']
    for key in ('backbone.layers.0.attn.qkv.weight', 'backbone.pos_embed',
                'backbone.layers.5.ffn.layers.1.weight'):
        assert (trained[key] - exported[key]).abs().max() < 3e-3, key
