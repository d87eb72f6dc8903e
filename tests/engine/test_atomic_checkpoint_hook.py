"""AtomicCheckpointHook with ``save_best``: the previous best checkpoint is
removed only once the new best is completely written."""
import multiprocessing
import os

import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmeff.engine.hooks import AtomicCheckpointHook
from mmeff.engine.outputs import is_intact_checkpoint


class LinearModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        outputs = self.linear(torch.stack(inputs))
        if mode == 'loss':
            return dict(loss=outputs.pow(2).mean())
        return outputs.detach().unbind(0)


class RisingScore(BaseMetric):
    """``score`` = the number of evaluations so far: each epoch is best."""

    def __init__(self):
        super().__init__()
        self.evaluations = 0

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        self.evaluations += 1
        return dict(score=float(self.evaluations))


def train(work_dir, epochs, **backend):
    """A real Runner: 3 steps an epoch, validated every epoch, best kept."""
    loader = dict(dataset=[dict(inputs=torch.full((2,), float(i)))
                           for i in range(6)],
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  batch_size=2, collate_fn=dict(type='pseudo_collate'))
    hook = AtomicCheckpointHook(interval=1, max_keep_ckpts=1,
                                save_best='score', rule='greater',
                                backend_args=backend or None)
    runner = Runner(
        model=LinearModel(), work_dir=str(work_dir), train_dataloader=loader,
        val_dataloader=loader, val_evaluator=Evaluator(RisingScore()),
        train_cfg=dict(by_epoch=True, max_epochs=epochs, val_interval=1),
        val_cfg=dict(), optim_wrapper=dict(optimizer=dict(type='SGD',
                                                          lr=0.1)),
        default_hooks=dict(checkpoint=hook), default_scope='mmpretrain',
        log_level='WARNING')
    runner.train()


def train_killed_in_third_best(work_dir):
    import tests.helpers.faults  # noqa: F401  registers kill_mid_write
    train(work_dir, 3, backend='kill_mid_write',
          kill_when='best_score_epoch_3')


def test_a_new_best_replaces_the_old_one(tmp_path):
    train(tmp_path, 3)
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == [
        'best_score_epoch_3.pth', 'epoch_3.pth']


def test_kill_while_saving_a_new_best_keeps_the_old_best(tmp_path):
    child = multiprocessing.get_context('spawn').Process(
        target=train_killed_in_third_best, args=(tmp_path, ))
    child.start()
    child.join()
    assert child.exitcode == -9  # SIGKILL with half of the file written
    partial = [p for p in os.listdir(tmp_path) if p.endswith('.tmp')]
    assert len(partial) == 1 and 'best_score_epoch_3.pth' in partial[0]
    old_best = tmp_path / 'best_score_epoch_2.pth'
    assert is_intact_checkpoint(old_best)
    state = torch.load(old_best, map_location='cpu', weights_only=False)
    assert state['meta']['epoch'] == 2
    assert set(state['state_dict']) == {'linear.weight', 'linear.bias'}
