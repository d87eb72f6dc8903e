"""mmeff's configs under MMPretrain's own tools (the ones its wheel ships)."""
import os.path as osp

import mmpretrain

from tests.helpers.tools import PYTHON, REPO, assert_ok, run_tool

UPSTREAM_TOOLS = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools')
QUICKSTART_FP32 = osp.join(REPO, 'tests/configs/quickstart_fp32.py')


def test_quickstart_config_trains_under_mmpretrain_train_tool(
        tiny_image_folder, tmp_path):
    """Inherited mmpretrain::mae collate_fn builds; 2 iterations, 1 epoch."""
    result = run_tool([
        PYTHON, osp.join(UPSTREAM_TOOLS, 'train.py'), QUICKSTART_FP32,
        '--work-dir', str(tmp_path), '--cfg-options',
        f'train_dataloader.dataset.data_root={tiny_image_folder}',
        'train_cfg.max_epochs=1', 'train_dataloader.batch_size=20',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False'])
    assert_ok(result)
    assert 'Epoch(train) [1][2/2]' in result.stdout + result.stderr
    assert osp.isfile(tmp_path / 'epoch_1.pth')
