"""BufferedRuntimeInfoHook: the logs MMEngine's hook gives, fewer syncs."""
import json
import os.path as osp
import re

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from tests.helpers.tools import REPO

CONFIG = osp.join(REPO, 'tests', 'configs', 'mae_tiny_user.py')


class HistoryLength(Hook):
    """After each iteration's hooks: how many losses the hub holds."""

    priority = 'LOWEST'

    def __init__(self):
        self.lengths = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        history = runner.message_hub.log_scalars['train/loss']
        self.lengths.append(len(history.data[0]))


def train(work_dir, data_root, buffered, checkpoint=None):
    cfg = Config.fromfile(CONFIG)
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.work_dir = str(work_dir)
    # MMEngine keeps one message hub per experiment name, process-wide.
    cfg.experiment_name = 'runtime_info' + str(work_dir).replace('/', '_')
    cfg.train_cfg.max_epochs = 2
    cfg.default_hooks.logger.interval = 3  # 5 iterations an epoch
    cfg.default_hooks.checkpoint = checkpoint
    if buffered:
        cfg.default_hooks.runtime_info = dict(type='BufferedRuntimeInfoHook')
    runner = Runner.from_cfg(cfg)
    lengths = HistoryLength()
    runner.register_hook(lengths)
    runner.train()
    return runner, lengths.lengths


def logged(work_dir):
    """The scalars.json records without timings, and the log's loss text."""
    [run] = [d for d in work_dir.iterdir() if d.is_dir()]
    with open(run / 'vis_data' / 'scalars.json') as f:
        records = [json.loads(line) for line in f]
    timing = ('time', 'data_time', 'eta')
    records = [{k: v for k, v in r.items() if k not in timing}
               for r in records]
    log = (run / f'{run.name}.log').read_text()
    losses = re.findall(r'Epoch\(train\)\s+\[\d+\]\[\s*\d+/\d+\].*?'
                        r'(lr: \S+).*?(loss: \S+)', log)
    return records, losses


def test_hub_and_logs_get_the_same_values_in_the_same_order(
        tiny_image_folder, tmp_path):
    upstream, _ = train(tmp_path / 'upstream', tiny_image_folder, False)
    buffered, _ = train(tmp_path / 'buffered', tiny_image_folder, True)
    hub_a, hub_b = upstream.message_hub, buffered.message_hub
    assert list(hub_a.log_scalars) == list(hub_b.log_scalars)
    for key in ('train/loss', 'train/lr'):
        values_a, counts_a = hub_a.log_scalars[key].data
        values_b, counts_b = hub_b.log_scalars[key].data
        assert len(values_a) == 10
        assert values_b.tolist() == values_a.tolist()
        assert counts_b.tolist() == counts_a.tolist()
    records_a, losses_a = logged(tmp_path / 'upstream')
    records_b, losses_b = logged(tmp_path / 'buffered')
    # Iterations 3 and 8 (LoggerHook skips an epoch's short last interval).
    assert [r['iter'] for r in records_a] == [3, 8]
    assert records_b == records_a
    assert len(losses_a) == 2 and losses_b == losses_a


def test_losses_reach_the_hub_at_the_logger_interval_and_epoch_end(
        tiny_image_folder, tmp_path):
    _, lengths = train(tmp_path / 'buffered', tiny_image_folder, True)
    # After the first iteration (key order), then at iterations 3 and 5 of
    # each epoch; upstream it grows by one every iteration.
    assert lengths == [1, 1, 3, 3, 5, 5, 5, 8, 8, 10]
    _, lengths = train(tmp_path / 'upstream', tiny_image_folder, False)
    assert lengths == list(range(1, 11))


def test_a_checkpoint_holds_every_loss_before_it(tiny_image_folder, tmp_path):
    import torch
    train(tmp_path, tiny_image_folder, True, checkpoint=dict(
        type='CheckpointHook', interval=2, by_epoch=False))
    for done in (2, 4, 6):  # each time with losses still buffered
        ckpt = torch.load(tmp_path / f'iter_{done}.pth', weights_only=False)
        history = ckpt['message_hub']['log_scalars']['train/loss']
        assert len(history.data[0]) == done
