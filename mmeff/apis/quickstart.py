"""The quickstart: pretrain a tiny EMAE on the bundled data and probe it.

Steps: write the bundled Fashion-MNIST subset as class folders (and, for an
``ESSLLoader`` config, the training split as ESSL storage), pretrain
through a real MMEngine Runner (``build_runner``), then evaluate frozen
features of the held-out split with a kNN and a linear probe, next to the
same network at random initialisation and to raw pixels. Outputs land in the
work dir: ``metrics.json`` (fields in :data:`METRIC_FIELDS`),
``reconstructions.png`` and MMEngine's logs and checkpoints.
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
from mmeff.evaluation import (extract_features, knn_top1, linear_probe_top1,
                              mae_reconstruct, preprocess,
                              save_reconstruction_grid)

DEFAULT_CONFIG = 'configs/essl/emae_vit-tiny-p4_fashion-mnist_essl.py'

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


def run_quickstart(config=DEFAULT_CONFIG, work_dir=None, data_root=None,
                   train_per_class=200, val_per_class=100, max_epochs=None,
                   log_interval=None):
    """Run the quickstart end to end and return its metrics dict."""
    cfg = load_config(config)
    essl = cfg.train_dataloader.get('type') == 'ESSLLoader'
    if data_root is not None:
        cfg.merge_from_dict({'probe_dataloaders.train.dataset.data_root': data_root,
                             'probe_dataloaders.val.dataset.data_root': data_root})
        if essl:
            cfg.train_dataloader.path = osp.join(data_root, 'train.beton')
        else:
            cfg.train_dataloader.dataset.data_root = data_root
    data_root = cfg.probe_dataloaders.train.dataset.data_root
    meta = prepare_fashion_mnist(data_root, train_per_class, val_per_class)
    if essl:
        storage = cfg.train_dataloader.path
        write_storage(osp.join(data_root, 'train'), storage,
                      osp.join(data_root, 'meta.json'))
    else:
        storage = osp.join(data_root, 'train')
    cfg.work_dir = work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(config))[0])
    if max_epochs is not None:
        cfg.train_cfg.max_epochs = max_epochs
    if log_interval is not None:
        cfg.default_hooks.logger.interval = log_interval
    cfg.launcher = 'none'

    from mmeff.apis.train import build_runner
    runner = build_runner(copy.deepcopy(cfg))
    start = time.perf_counter()
    runner.train()
    train_seconds = time.perf_counter() - start
    model = runner.model
    num_classes = len(meta['classes'])

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

    val_set = loaders['val'].dataset
    picks = torch.linspace(0, len(val_set) - 1, 8).long().tolist()
    batch = default_collate([val_set[i] for i in picks])
    images = preprocess(model, batch)[0]
    masked, recon = mae_reconstruct(model, images)
    prep = cfg.model.data_preprocessor
    grid = save_reconstruction_grid(
        osp.join(cfg.work_dir, 'reconstructions.png'), images, masked, recon,
        prep['mean'], prep['std'])

    iters = runner.iter
    dataset_size = len(runner.train_dataloader.dataset)
    loss = runner.message_hub.get_scalar('train/loss')
    metrics = dict(
        dataset=f"{meta['dataset']} ({data_root})",
        train_storage=storage,
        num_train=dataset_size,
        num_val=len(loaders['val'].dataset),
        num_classes=num_classes,
        epochs=runner.epoch,
        iterations=iters,
        train_seconds=round(train_seconds, 2),
        train_images_per_second=round(
            iters * cfg.train_dataloader.batch_size / train_seconds, 1),
        final_loss=round(float(loss.mean(cfg.default_hooks.logger.interval)), 4),
        knn_top1=round(trained[0], 2),
        linear_top1=round(trained[1], 2),
        random_init_knn_top1=round(random_init[0], 2),
        random_init_linear_top1=round(random_init[1], 2),
        raw_pixels_knn_top1=round(raw[0], 2),
        raw_pixels_linear_top1=round(raw[1], 2),
    )
    metrics_path = osp.join(cfg.work_dir, 'metrics.json')
    with open(metrics_path, 'w') as f:
        json.dump(metrics, f, indent=2)
    metrics['_paths'] = dict(metrics=metrics_path, reconstructions=grid,
                             work_dir=cfg.work_dir)
    return metrics
