"""The quickstart: pretrain a tiny EMAE on the bundled data, probe it and
fine-tune it.

Steps: write the bundled Fashion-MNIST subset as class folders (and, for an
``ESSLLoader`` config, the training split as ESSL storage), pretrain
through a real MMEngine Runner (``build_runner``), then evaluate frozen
features of the held-out split with a kNN and a linear probe, next to the
same network at random initialisation and to raw pixels. Last, the
pretrained encoder and the same network from scratch are fine-tuned on the
training split with one recipe (:data:`DEFAULT_FINETUNE_CONFIG`), each by
its own Runner, and scored top-1 on the held-out split. Outputs land in the
work dir: ``metrics.json`` (fields in :data:`METRIC_FIELDS`),
``reconstructions.png``, MMEngine's logs and checkpoints, and the two
fine-tuning runs under ``finetune_pretrained/`` and ``finetune_scratch/``.
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
from mmeff.engine.config import load_config
from mmeff.evaluation import (
    extract_features,
    knn_top1,
    linear_probe_top1,
    mae_reconstruct,
    preprocess,
    save_reconstruction_grid,
)
from mmeff.fileio import atomic_output, atomic_write_bytes

DEFAULT_CONFIG = 'configs/essl/emae_vit-tiny-p4_1xb16-coslr-10e_fashion-mnist_essl.py'
DEFAULT_FINETUNE_CONFIG = \
    'configs/quickstart/vit-tiny-p4_1xb64-ft-6e_fashion-mnist_essl.py'

METRIC_FIELDS = {
    'dataset': 'bundled data set name',
    'train_storage': 'what pretraining read: ESSL file or image folder',
    'num_train': 'pretraining / probe-fit images',
    'num_val': 'held-out images the probes are scored on',
    'num_classes': 'classes',
    'epochs': 'pretraining epochs run',
    'iterations': 'pretraining iterations run',
    'train_seconds': 'wall time of runner.train()',
    'train_images_per_second': 'iterations x batch size / train_seconds',
    'final_loss': 'mean training loss over the last logged window',
    'knn_top1': 'weighted kNN (k=20, T=0.07) top-1 %, pretrained features',
    'linear_top1': 'linear probe top-1 % (last epoch), pretrained features',
    'random_init_knn_top1': 'kNN top-1 %, same network at random init',
    'random_init_linear_top1': 'linear probe top-1 %, random init',
    'raw_pixels_knn_top1': 'kNN top-1 % on raw normalised pixels',
    'raw_pixels_linear_top1': 'linear probe top-1 % on raw pixels',
    'finetune_top1': 'top-1 % after fine-tuning the pretrained encoder',
    'scratch_finetune_top1': 'top-1 %, the same fine-tuning from scratch',
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


def pretrain_config(config, work_dir, data_root, max_epochs, log_interval):
    """The pretraining config with the quickstart's overrides applied."""
    cfg = load_config(config)
    if data_root is not None:
        cfg.merge_from_dict({'probe_dataloaders.train.dataset.data_root': data_root,
                             'probe_dataloaders.val.dataset.data_root': data_root})
        if cfg.train_dataloader.get('type') == 'ESSLLoader':
            cfg.train_dataloader.path = osp.join(data_root, 'train.beton')
        else:
            cfg.train_dataloader.dataset.data_root = data_root
    cfg.work_dir = work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(config))[0])
    if max_epochs is not None:
        cfg.train_cfg.max_epochs = max_epochs
    if log_interval is not None:
        cfg.default_hooks.logger.interval = log_interval
    cfg.launcher = 'none'
    return cfg


def prepare_data(data_root, train_per_class, val_per_class):
    """Class folders, and both splits as ESSL storage; returns the meta."""
    meta = prepare_fashion_mnist(data_root, train_per_class, val_per_class)
    for split in ('train', 'val'):
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
    loaders = {k: Runner.build_dataloader(v)
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


def _set_finetune_epochs(cfg, epochs):
    # Scored after the last epoch; the cosine phase ends with the run.
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = epochs
    cfg.default_hooks.checkpoint.interval = epochs
    cosine = cfg.param_scheduler[-1]
    cosine.end = max(epochs, cosine.begin + 1)
    cosine.T_max = cosine.end - cosine.begin


def finetune_config(config, work_dir, data_root, checkpoint, max_epochs=None):
    """The fine-tuning config: from ``checkpoint``, or from scratch if None."""
    cfg = load_config(config)
    cfg.train_dataloader.path = osp.join(data_root, 'train.beton')
    cfg.val_dataloader.path = osp.join(data_root, 'val.beton')
    cfg.test_dataloader = cfg.val_dataloader
    cfg.model.backbone.init_cfg = None if checkpoint is None else dict(
        type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
    if max_epochs is not None:
        _set_finetune_epochs(cfg, max_epochs)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    return cfg


def finetune_pair(config, work_dir, data_root, encoder, max_epochs=None):
    """Held-out top-1 (%) fine-tuned from ``encoder`` and from scratch."""
    backbone = osp.join(work_dir, 'pretrained_backbone.pth')
    cfg = finetune_config(config, None, data_root, backbone, max_epochs)
    export_backbone(encoder, cfg.model.backbone, backbone)
    scores = []
    for name, checkpoint in (('pretrained', backbone), ('scratch', None)):
        cfg = finetune_config(config, osp.join(work_dir, f'finetune_{name}'),
                              data_root, checkpoint, max_epochs)
        runner, _ = _train(cfg)
        top1 = runner.message_hub.get_scalar('val/accuracy/top1').current()
        scores.append(round(float(top1), 2))
    return tuple(scores)


def _pretrain_metrics(cfg, runner, seconds, meta, storage):
    iters = runner.iter
    loss = runner.message_hub.get_scalar('train/loss')
    data_root = cfg.probe_dataloaders.train.dataset.data_root
    interval = cfg.default_hooks.logger.interval
    return dict(
        dataset=f"{meta['dataset']} ({data_root})",
        train_storage=storage,
        num_train=len(runner.train_dataloader.dataset),
        num_val=meta['val_per_class'] * len(meta['classes']),
        num_classes=len(meta['classes']),
        epochs=runner.epoch,
        iterations=iters,
        train_seconds=round(seconds, 2),
        train_images_per_second=round(
            iters * cfg.train_dataloader.batch_size / seconds, 1),
        final_loss=round(float(loss.mean(interval)), 4))


def run_quickstart(config=DEFAULT_CONFIG, work_dir=None, data_root=None,
                   train_per_class=200, val_per_class=100, max_epochs=None,
                   log_interval=None,
                   finetune_config_path=DEFAULT_FINETUNE_CONFIG,
                   finetune_epochs=None):
    """Run the quickstart end to end and return its metrics dict."""
    cfg = pretrain_config(config, work_dir, data_root, max_epochs,
                          log_interval)
    data_root = cfg.probe_dataloaders.train.dataset.data_root
    meta = prepare_data(data_root, train_per_class, val_per_class)
    essl = cfg.train_dataloader.get('type') == 'ESSLLoader'
    storage = (cfg.train_dataloader.path if essl
               else osp.join(data_root, 'train'))
    runner, seconds = _train(cfg)
    model = runner.model
    metrics = _pretrain_metrics(cfg, runner, seconds, meta, storage)
    metrics.update(evaluate_probes(cfg, model, len(meta['classes'])))
    grid = save_reconstructions(
        cfg, model, osp.join(cfg.work_dir, 'reconstructions.png'))
    metrics['finetune_top1'], metrics['scratch_finetune_top1'] = finetune_pair(
        finetune_config_path, cfg.work_dir, data_root, model.backbone,
        finetune_epochs)
    metrics_path = osp.join(cfg.work_dir, 'metrics.json')
    atomic_write_bytes(metrics_path, json.dumps(metrics, indent=2).encode())
    metrics['_paths'] = dict(metrics=metrics_path, reconstructions=grid,
                             work_dir=cfg.work_dir)
    return metrics
