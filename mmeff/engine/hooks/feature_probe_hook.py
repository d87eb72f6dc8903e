"""Track a frozen-feature quality proxy against training wall time."""
import json
import os.path as osp
import time

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmeff.engine.utils import unwrap_model
from mmeff.evaluation import extract_features, knn_top1, linear_probe_top1
from mmeff.fileio import atomic_write_bytes


@HOOKS.register_module()
class FeatureProbeHook(Hook):
    """Weighted-kNN top-1 of frozen features, as a function of train time.

    Every ``interval_seconds`` of training wall time (probing excluded), or
    every ``interval_iters`` iterations, the model's features
    (``extract_feat``, patch tokens mean-pooled) of ``val_dataloader`` are
    classified by a weighted kNN (k=20, T=0.07, as in
    Wu et al. 2018 / DINO) fitted on ``train_dataloader``. Each point is
    logged to the message hub as ``probe/knn_top1`` and appended to
    ``<work_dir>/<out_file>`` with the training seconds, iterations and images
    seen, so runs can be compared at equal wall time; the visualizer gets it
    too (``scalars.json``, TensorBoard), at step = iterations. The final
    point is taken after training. ``time_budget`` stops training
    (iteration-based loops stop at once, epoch-based ones at the end of the
    epoch) once that many training seconds have passed. With
    ``linear=True`` each point also holds ``linear_top1``, a linear probe of
    the same features (:func:`~mmeff.evaluation.linear_probe_top1`).

    Args:
        train_dataloader (dict): loader config for the kNN memory bank.
        val_dataloader (dict): loader config for the scored split.
        interval_seconds (float, optional): probe period in training seconds.
        interval_iters (int, optional): probe period in iterations (runs of
            equal length then get probes at the same points of progress).
        time_budget (float, optional): stop training after this many seconds.
        k (int), temperature (float): kNN parameters.
        out_file (str): JSON file name inside the work dir.
        linear (bool): add a linear probe to every point. Defaults to False.
    """

    priority = 'LOW'

    def __init__(self, train_dataloader, val_dataloader, interval_seconds=None,
                 time_budget=None, k=20, temperature=0.07,
                 out_file='probe_curve.json', interval_iters=None,
                 linear=False):
        self.loader_cfgs = dict(train=train_dataloader, val=val_dataloader)
        self.interval_seconds = interval_seconds
        self.interval_iters = interval_iters
        self.time_budget = time_budget
        self.k, self.temperature = k, temperature
        self.out_file = out_file
        self.linear = linear
        self.curve = []

    def before_train(self, runner):
        self.loaders = {name: runner.build_dataloader(cfg)
                        for name, cfg in self.loader_cfgs.items()}
        self.train_seconds = 0.0
        self.images_seen = 0
        self.since_probe = 0.0
        self._tick = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        now = time.perf_counter()
        step = now - self._tick
        self.train_seconds += step
        self.since_probe += step
        if data_batch is not None:
            self.images_seen += len(data_batch['data_samples'])
        done = runner.iter + 1  # runner.iter counts this one after the hooks
        if self.interval_seconds and self.since_probe >= self.interval_seconds:
            self.probe(runner, done)
        elif self.interval_iters and done % self.interval_iters == 0 and \
                done < runner.max_iters:  # the last point is after_train's
            self.probe(runner, done)
        if self.time_budget and self.train_seconds >= self.time_budget:
            runner.train_loop.stop_training = True
        self._tick = time.perf_counter()

    def before_train_epoch(self, runner):
        # Iterator start-up (worker launch) counts as training time; the
        # previous epoch's checkpointing and validation do not.
        self._tick = time.perf_counter()

    def after_train(self, runner):
        self.probe(runner)

    def probe(self, runner, iterations=None):
        model = unwrap_model(runner.model)
        train = extract_features(model, self.loaders['train'])
        val = extract_features(model, self.loaders['val'])
        top1 = knn_top1(*train, *val, k=self.k, temperature=self.temperature)
        point = dict(train_seconds=round(self.train_seconds, 3),
                     iterations=runner.iter if iterations is None
                     else iterations, images_seen=self.images_seen,
                     knn_top1=round(top1, 2))
        if self.linear:
            point['linear_top1'] = round(linear_probe_top1(*train, *val), 2)
        self.curve.append(point)
        self.since_probe = 0.0
        runner.message_hub.update_scalar('probe/knn_top1', top1)
        # LoggerHook only forwards `train/` keys at its interval, and the
        # final probe comes after its last write: hand the point straight to
        # the visualizer (scalars.json, TensorBoard, ... backends).
        runner.visualizer.add_scalars({'probe/knn_top1': top1},
                                      step=point['iterations'])
        runner.logger.info(f'probe: {point}')
        if is_main_process():
            atomic_write_bytes(osp.join(runner.work_dir, self.out_file),
                               json.dumps(self.curve, indent=1).encode())
