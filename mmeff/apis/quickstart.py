"""The quickstart: is self-supervised pretraining worth its time when
unlabelled images are plentiful and labels are few?

Steps: write the bundled Fashion-MNIST as image folders (all 60,000 training
images without labels, 200 labelled training images per class, the 10,000
test images held out) and each split as ESSL storage; pretrain EMAE on the
unlabelled pool through a real MMEngine Runner (``build_runner``); evaluate
its frozen features with a kNN and a linear probe fitted on the labelled
images, next to the same network at random initialisation and to raw
pixels. Then three runs on the labelled images, each by its own Runner with
one recipe (:data:`DEFAULT_FINETUNE_CONFIG`): fine-tuning the pretrained
encoder, the same steps from scratch, and a supervised run from scratch
given the wall time of pretraining + fine-tuning. Every top-1 is on the
held-out test images. Outputs land in the work dir: ``metrics.json``
(fields in :data:`METRIC_FIELDS`), ``reconstructions.png``, MMEngine's logs
and checkpoints, and the three runs under ``finetune_pretrained/``,
``finetune_scratch/`` and ``supervised/``.
"""
import copy
import json
import os
import os.path as osp
import time

import torch
from mmengine.dataset import default_collate
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from mmeff.data import prepare_fashion_mnist
from mmeff.engine.config import ConfigError, load_config
from mmeff.evaluation import (
    extract_features,
    knn_top1,
    linear_probe_top1,
    mae_reconstruct,
    preprocess,
    save_reconstruction_grid,
)
from mmeff.fileio import atomic_output, atomic_write_bytes

DEFAULT_CONFIG = \
    'configs/quickstart/emae_vit-tiny-p4_1xb16-coslr-750i_fashion-mnist-60k_essl.py'
# The pretraining pool (labels unused), the labelled split, the held-out one.
SPLITS = ('unlabelled', 'train', 'val')
DEFAULT_FINETUNE_CONFIG = \
    'configs/quickstart/vit-tiny-p4_1xb64-ft-10e_fashion-mnist_essl.py'

METRIC_FIELDS = {
    'dataset': 'bundled data set name',
    'train_storage': 'what pretraining read: ESSL file or image folder',
    'num_unlabelled': 'pretraining images (labels unused)',
    'num_train': 'labelled images: probe fitting and fine-tuning',
    'num_val': 'held-out test images every top-1 is scored on',
    'num_classes': 'classes',
    'iterations': 'pretraining iterations run',
    'train_seconds': 'wall time of pretraining (runner.train())',
    'train_images_per_second': 'iterations x batch size / train_seconds',
    'final_loss': 'mean training loss over the last logged window',
    'knn_top1': 'weighted kNN (k=20, T=0.07) top-1 %, pretrained features',
    'linear_top1': 'linear probe top-1 % (last epoch), pretrained features',
    'random_init_knn_top1': 'kNN top-1 %, same network at random init',
    'random_init_linear_top1': 'linear probe top-1 %, random init',
    'raw_pixels_knn_top1': 'kNN top-1 % on raw normalised pixels',
    'raw_pixels_linear_top1': 'linear probe top-1 % on raw pixels',
    'finetune_top1': 'top-1 % after fine-tuning the pretrained encoder',
    'finetune_seconds': 'wall time of that fine-tuning run',
    'scratch_finetune_top1': 'top-1 %, the same fine-tuning from scratch',
    'scratch_finetune_seconds': 'wall time of the run from scratch',
    'supervised_top1': 'top-1 %, trained from scratch on the labelled '
                       'images for pretraining + fine-tuning wall time',
    'supervised_epochs': 'epochs that budget allowed the supervised run',
    'supervised_seconds': 'wall time of the supervised run',
    'probe_seconds': 'wall time of the probes and the reconstruction grid',
    'total_seconds': 'wall time of the whole quickstart, data check included',
}


def _probe(train, val, num_classes):
    (xtr, ytr), (xva, yva) = train, val
    return (knn_top1(xtr, ytr, xva, yva, num_classes=num_classes),
            linear_probe_top1(xtr, ytr, xva, yva, num_classes=num_classes))


def _raw_pixels(model, loader):
    data = [preprocess(model, b) for b in loader]
    x = torch.cat([inputs.flatten(1) for inputs, _ in data])
    y = torch.cat([s.gt_label for _, samples in data for s in samples])
    return x, y


def write_storage(folder, path, meta_path):
    """(Re)write ESSL storage unless it is newer than the image folders and
    of the current format."""
    from mmeff.data.essl import ESSLFileError, read_sidecar, write_essl
    if osp.isfile(path) and os.stat(path).st_mtime >= os.stat(meta_path).st_mtime:
        try:
            read_sidecar(path)
            return
        except ESSLFileError:  # written by an older mmeff: rewrite it
            pass
    # 28x28 grayscale: raw records cost ~2.3 KB and need no decoding.
    write_essl(folder, path, write_mode='raw', num_workers=2, progress=False,
               overwrite=True)


def _end_cosine_at(cosine, end):
    """Make the cosine phase run from its start to ``end`` (at least one
    step)."""
    cosine.end = max(end, cosine.begin + 1)
    cosine.T_max = cosine.end - cosine.begin


def _set_pretrain_iters(cfg, max_iters):
    """An iteration-based schedule of ``max_iters`` with the config's
    warm-up fraction."""
    if cfg.train_cfg.get('type') != 'IterBasedTrainLoop':
        raise ConfigError('--iters needs an iteration-based pretraining config '
                          "(train_cfg type='IterBasedTrainLoop')")
    warmup, cosine = cfg.param_scheduler
    warmup.end = cosine.begin = max(1, round(
        max_iters * warmup.end / cfg.train_cfg.max_iters))
    _end_cosine_at(cosine, max_iters)
    cfg.train_cfg.max_iters = max_iters
    cfg.default_hooks.checkpoint.interval = max_iters


def pretrain_config(config, work_dir, data_root, max_iters, log_interval):
    """The pretraining config with the quickstart's overrides applied."""
    cfg = load_config(config)
    if data_root is not None:
        cfg.merge_from_dict({'probe_dataloaders.train.dataset.data_root': data_root,
                             'probe_dataloaders.val.dataset.data_root': data_root})
        if cfg.train_dataloader.get('type') == 'ESSLLoader':
            cfg.train_dataloader.path = osp.join(data_root, 'unlabelled.beton')
        else:
            cfg.train_dataloader.dataset.merge(
                dict(data_root=data_root, data_prefix=SPLITS[0]))
    cfg.work_dir = work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(config))[0])
    if max_iters is not None:
        _set_pretrain_iters(cfg, max_iters)
    if log_interval is not None:
        cfg.default_hooks.logger.interval = log_interval
    cfg.launcher = 'none'
    return cfg


def prepare_data(data_root, train_per_class, val_per_class, num_unlabelled=0):
    """Image folders and their ESSL storage (the unlabelled pool, the
    labelled training split, the held-out split); returns the meta."""
    meta = prepare_fashion_mnist(data_root, train_per_class, val_per_class,
                                 num_unlabelled=num_unlabelled)
    for split in SPLITS if num_unlabelled else SPLITS[1:]:
        write_storage(osp.join(data_root, split),
                      osp.join(data_root, f'{split}.beton'),
                      osp.join(data_root, 'meta.json'))
    return meta


def _train(cfg):
    from mmeff.apis.train import build_runner
    runner = build_runner(copy.deepcopy(cfg))
    start = time.perf_counter()
    runner.train()
    return runner, time.perf_counter() - start


def evaluate_probes(cfg, model, num_classes):
    """kNN / linear probes: pretrained, random init and raw pixels."""
    # Read once, embedded three times.
    loaders = {k: list(Runner.build_dataloader(v))
               for k, v in cfg.probe_dataloaders.items()}
    trained = _probe(extract_features(model, loaders['train']),
                     extract_features(model, loaders['val']), num_classes)
    torch.manual_seed(cfg.randomness.seed)
    fresh = MODELS.build(cfg.model)
    fresh.init_weights()
    random_init = _probe(extract_features(fresh, loaders['train']),
                         extract_features(fresh, loaders['val']), num_classes)
    raw = _probe(_raw_pixels(model, loaders['train']),
                 _raw_pixels(model, loaders['val']), num_classes)
    names = ('', 'random_init_', 'raw_pixels_')
    return {f'{name}{kind}_top1': round(value, 2)
            for name, pair in zip(names, (trained, random_init, raw))
            for kind, value in zip(('knn', 'linear'), pair)}


def save_reconstructions(cfg, model, path):
    """Masked inputs, reconstructions and originals of 8 held-out images."""
    val_set = Runner.build_dataloader(cfg.probe_dataloaders.val).dataset
    picks = torch.linspace(0, len(val_set) - 1, 8).long().tolist()
    images = preprocess(model, default_collate([val_set[i] for i in picks]))[0]
    masked, recon = mae_reconstruct(model, images)
    prep = cfg.model.data_preprocessor
    return save_reconstruction_grid(path, images, masked, recon,
                                    prep['mean'], prep['std'])


def export_backbone(encoder, backbone_cfg, path):
    """Save ``encoder``'s weights as ``init_cfg`` Pretrained loads them."""
    from mmeff.apis.export import build_backbone, to_target
    state, _ = to_target(encoder.state_dict(), build_backbone(backbone_cfg))
    with atomic_output(path) as tmp:
        torch.save({'state_dict': state}, tmp)


def _set_finetune_schedule(cfg, epochs, warmup_epochs=None):
    # Scored after the last epoch; warm-up then a cosine that ends with the run.
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = epochs
    cfg.default_hooks.checkpoint.interval = epochs
    warmup, cosine = cfg.param_scheduler
    if warmup_epochs is not None:
        warmup.end = cosine.begin = warmup_epochs
    _end_cosine_at(cosine, epochs)


def finetune_config(config, work_dir, data_root, checkpoint, max_epochs=None,
                    train_path=None, val_path=None, overrides=None):
    """The fine-tuning config: from ``checkpoint``, or from scratch if None.

    Trains on ``<data_root>/train.beton`` and scores ``<data_root>/val.beton``
    unless ``train_path`` / ``val_path`` say otherwise. ``overrides`` are
    ``--cfg-options``-style keys; ``max_epochs`` and ``warmup_epochs`` among
    them reshape the warm-up + cosine schedule.
    """
    cfg = load_config(config)
    overrides = dict(overrides or {})
    schedule = {k: overrides.pop(k) for k in ('max_epochs', 'warmup_epochs')
                if k in overrides}
    cfg.merge_from_dict(overrides)
    cfg.train_dataloader.path = train_path or osp.join(data_root, 'train.beton')
    cfg.val_dataloader.path = val_path or osp.join(data_root, 'val.beton')
    cfg.test_dataloader = cfg.val_dataloader
    for hook in cfg.get('custom_hooks', []):
        if hook.get('type') == 'LinearProbeInitHook':
            hook.dataloader.path = cfg.train_dataloader.path
    cfg.model.backbone.init_cfg = None if checkpoint is None else dict(
        type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
    max_epochs = schedule.get('max_epochs', max_epochs)
    if max_epochs is not None or schedule:
        _set_finetune_schedule(cfg, max_epochs or cfg.train_cfg.max_epochs,
                               schedule.get('warmup_epochs'))
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    return cfg


def train_and_score(cfg):
    """Train ``cfg`` by its own Runner; ``(held-out top-1 %, seconds)``."""
    runner, seconds = _train(cfg)
    top1 = runner.message_hub.get_scalar('val/accuracy/top1').current()
    return round(float(top1), 2), seconds


def finetune_comparison(config, work_dir, data_root, encoder, pretrain_seconds,
                        max_epochs=None):
    """Fine-tuning from ``encoder`` and from scratch (same steps and seed),
    and a supervised run from scratch given the wall time of pretraining +
    fine-tuning; their held-out top-1 (%) and seconds."""
    backbone = osp.join(work_dir, 'pretrained_backbone.pth')
    cfgs = {name: finetune_config(config, osp.join(work_dir, f'finetune_{name}'),
                                  data_root, checkpoint, max_epochs)
            for name, checkpoint in (('pretrained', backbone), ('scratch', None))}
    export_backbone(encoder, cfgs['pretrained'].model.backbone, backbone)
    epochs = cfgs['pretrained'].train_cfg.max_epochs
    results = {name: train_and_score(cfg) for name, cfg in cfgs.items()}
    budget = pretrain_seconds + results['pretrained'][1]
    # Epochs at the scratch run's pace that fill the budget.
    supervised_epochs = max(epochs, round(epochs * budget / results['scratch'][1]))
    cfg = finetune_config(config, osp.join(work_dir, 'supervised'), data_root,
                          None, supervised_epochs)
    results['supervised'] = train_and_score(cfg)
    return dict(
        finetune_top1=results['pretrained'][0],
        finetune_seconds=round(results['pretrained'][1], 1),
        scratch_finetune_top1=results['scratch'][0],
        scratch_finetune_seconds=round(results['scratch'][1], 1),
        supervised_top1=results['supervised'][0],
        supervised_epochs=supervised_epochs,
        supervised_seconds=round(results['supervised'][1], 1))


def _pretrain_metrics(cfg, runner, seconds, meta, storage):
    iters = runner.iter
    loss = runner.message_hub.get_scalar('train/loss')
    data_root = cfg.probe_dataloaders.train.dataset.data_root
    interval = cfg.default_hooks.logger.interval
    num_classes = len(meta['classes'])
    return dict(
        dataset=f"{meta['dataset']} ({data_root})",
        train_storage=storage,
        num_unlabelled=len(runner.train_dataloader.dataset),
        num_train=meta['train_per_class'] * num_classes,
        num_val=meta['val_per_class'] * num_classes,
        num_classes=num_classes,
        iterations=iters,
        train_seconds=round(seconds, 2),
        train_images_per_second=round(
            iters * cfg.train_dataloader.batch_size / seconds, 1),
        final_loss=round(float(loss.mean(interval)), 4))


def run_quickstart(config=DEFAULT_CONFIG, work_dir=None, data_root=None,
                   train_per_class=200, val_per_class=1000,
                   num_unlabelled=60000, max_iters=None, log_interval=None,
                   finetune_config_path=DEFAULT_FINETUNE_CONFIG,
                   finetune_epochs=None):
    """Run the quickstart end to end and return its metrics dict."""
    start = time.perf_counter()
    cfg = pretrain_config(config, work_dir, data_root, max_iters, log_interval)
    data_root = cfg.probe_dataloaders.train.dataset.data_root
    meta = prepare_data(data_root, train_per_class, val_per_class,
                        num_unlabelled)
    essl = cfg.train_dataloader.get('type') == 'ESSLLoader'
    storage = (cfg.train_dataloader.path if essl
               else osp.join(data_root, SPLITS[0]))
    runner, seconds = _train(cfg)
    model = runner.model
    metrics = _pretrain_metrics(cfg, runner, seconds, meta, storage)
    probe_start = time.perf_counter()
    metrics.update(evaluate_probes(cfg, model, len(meta['classes'])))
    grid = save_reconstructions(
        cfg, model, osp.join(cfg.work_dir, 'reconstructions.png'))
    metrics['probe_seconds'] = round(time.perf_counter() - probe_start, 1)
    metrics.update(finetune_comparison(
        finetune_config_path, cfg.work_dir, data_root, model.backbone,
        seconds, finetune_epochs))
    metrics['total_seconds'] = round(time.perf_counter() - start, 1)
    metrics_path = osp.join(cfg.work_dir, 'metrics.json')
    atomic_write_bytes(metrics_path, json.dumps(metrics, indent=2).encode())
    metrics['_paths'] = dict(metrics=metrics_path, reconstructions=grid,
                             work_dir=cfg.work_dir)
    return metrics


def format_table(metrics):
    """The quickstart's verdict: one row per model, held-out top-1 and the
    wall time each needed."""
    m = metrics
    pretrain, finetune = m['train_seconds'], m['finetune_seconds']
    rows = [
        ('raw pixels, linear probe', m['raw_pixels_linear_top1'], '-'),
        ('random-init ViT, linear probe', m['random_init_linear_top1'], '-'),
        ('EMAE features, kNN', m['knn_top1'], f'{pretrain:.0f}'),
        ('EMAE features, linear probe', m['linear_top1'], f'{pretrain:.0f}'),
        ('ViT from scratch, same fine-tuning', m['scratch_finetune_top1'],
         f"{m['scratch_finetune_seconds']:.0f}"),
        (f"ViT supervised, {m['supervised_epochs']} epochs (equal wall time)",
         m['supervised_top1'], f"{m['supervised_seconds']:.0f}"),
        ('ViT pretrained with EMAE, fine-tuned', m['finetune_top1'],
         f'{pretrain:.0f} + {finetune:.0f}'),
    ]
    head = (f"{m['num_unlabelled']:,} unlabelled images (pretraining), "
            f"{m['num_train']:,} labelled (fitting), top-1 on "
            f"{m['num_val']:,} held-out test images")
    width = max(len(r[0]) for r in rows)
    lines = [head, '', f"{'model':<{width}}  top-1 %  wall s",
             f"{'-' * width}  -------  ------"]
    lines += [f'{name:<{width}}  {top1:7.1f}  {wall}' for name, top1, wall in rows]
    lines += ['', f"total wall time {m['total_seconds']:.0f} s (probes and "
              f"reconstructions {m['probe_seconds']:.0f} s)"]
    return '\n'.join(lines)
