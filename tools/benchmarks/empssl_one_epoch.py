#!/usr/bin/env python
"""EMP-SSL, one epoch on the bundled Fashion-MNIST subset, CPU.

Pretrains EMP-SSL for one epoch through a real MMEngine Runner, then scores
three representations on held-out images: the EMP-SSL bag of features (mean
pre-feature over the test patches), the same network at random
initialisation (same bag of features), and raw pixels. Each gets both
linear probes of mmeff/evaluation/bag_of_features.py ('reference': the
released SGD probe, last and best epoch; 'fast': mmeff's 100 AdamW steps on
standardised features, last step) and a weighted kNN (k=20, T=0.07).
Prints JSON and writes it to OUT/metrics.json.

  python tools/benchmarks/empssl_one_epoch.py --out work_dirs/bench_empssl
"""
import argparse
import copy
import os.path as osp
import sys

from mmengine.config import DictAction

CONFIG = 'configs/empssl/empssl_resnet18-cifar-w16_1xb50-n16-1e_fashion-mnist.py'
PROTOCOLS = ('reference', 'fast')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--out', default='work_dirs/bench_empssl_one_epoch',
                        help='work dir (logs, checkpoint, metrics.json)')
    parser.add_argument('--data-root', default=None)
    parser.add_argument('--train-per-class', type=int, default=600)
    parser.add_argument('--val-per-class', type=int, default=100)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. '
                        'param_scheduler.0.T_max=1 param_scheduler.0.end=1')
    return parser.parse_args(argv)


def flatten(prefix, result):
    """Keys ``{prefix}_linear_{protocol}_{last|best}_top1``, ``..._knn_top1``."""
    flat = {f'{prefix}_linear_{p}_{k}': round(v, 2)
            for p, scores in result['linear'].items() for k, v in scores.items()}
    flat[f'{prefix}_knn_top1'] = round(result['knn_top1'], 2)
    return flat


def raw_pixels(cfg, model, num_classes):
    """Probes on the upsampled, normalised pixels (``cfg.pixel_pipeline``)."""
    import torch
    from mmengine.runner import Runner

    from mmeff.evaluation import knn_top1, linear_probe, preprocess
    feats = []
    for split in ('train', 'val'):
        loader_cfg = copy.deepcopy(cfg.bof_dataloaders[split])
        loader_cfg.dataset.pipeline = cfg.pixel_pipeline
        data = [preprocess(model, b)
                for b in Runner.build_dataloader(loader_cfg)]
        feats += [torch.cat([inputs.flatten(1) for inputs, _ in data]),
                  torch.cat([s.gt_label for _, samples in data for s in samples])]
    return dict(linear={p: linear_probe(p, *feats, num_classes=num_classes)
                        for p in PROTOCOLS},
                knn_top1=knn_top1(*feats, num_classes=num_classes))


def pretrain(cfg):
    """One epoch through the Runner; return ``(runner, train seconds)``."""
    from mmeff.apis.benchmarking import timed
    from mmeff.apis.train import build_runner
    runner = build_runner(copy.deepcopy(cfg), loaders=('train_dataloader',))
    _, seconds = timed(runner.train)
    return runner, seconds


def probe_models(cfg, runner, num_classes):
    """Bag-of-features probes of the trained and a freshly initialised model."""
    import torch
    from mmengine.runner import Runner
    from mmpretrain.registry import MODELS

    from mmeff.apis.benchmarking import timed
    from mmeff.evaluation import probe_bag_of_features
    loaders = {k: Runner.build_dataloader(copy.deepcopy(v))
               for k, v in cfg.bof_dataloaders.items()}
    stage = cfg.bof_cfg.stage
    trained, eval_seconds = timed(
        probe_bag_of_features, runner.model, loaders['train'],
        loaders['val'], stage, num_classes, protocols=PROTOCOLS)
    torch.manual_seed(cfg.randomness.seed)
    fresh = MODELS.build(cfg.model)
    fresh.init_weights()
    random_init = probe_bag_of_features(fresh, loaders['train'],
                                        loaders['val'], stage, num_classes,
                                        protocols=PROTOCOLS)
    return trained, random_init, fresh, eval_seconds


def main(argv=None):
    args = parse_args(argv)
    from mmeff.data import prepare_fashion_mnist
    from mmeff.engine.config import load_config

    cfg = load_config(args.config, args.cfg_options)
    if args.data_root:
        cfg.merge_from_dict({
            'train_dataloader.dataset.data_root': args.data_root,
            'bof_dataloaders.train.dataset.data_root': args.data_root,
            'bof_dataloaders.val.dataset.data_root': args.data_root})
    data_root = cfg.train_dataloader.dataset.data_root
    meta = prepare_fashion_mnist(data_root, args.train_per_class,
                                 args.val_per_class)
    num_classes = len(meta['classes'])
    cfg.work_dir = args.out
    cfg.launcher = 'none'

    runner, train_seconds = pretrain(cfg)
    trained, random_init, fresh, eval_seconds = probe_models(cfg, runner,
                                                             num_classes)
    pixels = raw_pixels(cfg, fresh, num_classes)
    hub = runner.message_hub
    num_train = len(runner.train_dataloader.dataset)
    sched = cfg.param_scheduler[0]
    result = dict(
        command=' '.join([osp.join('tools', 'benchmarks',
                                   osp.basename(__file__))] + sys.argv[1:]),
        config=args.config, dataset=f'fashion-mnist ({data_root})',
        num_train=num_train, num_val=trained['num_val'],
        num_classes=num_classes, epochs=runner.epoch, iterations=runner.iter,
        lr_schedule_epochs=sched.T_max, final_lr=round(
            float(hub.get_scalar('train/lr').current()), 4),
        batch_size=cfg.train_dataloader.batch_size,
        num_patches=cfg.model.num_patches,
        test_patches=cfg.bof_cfg.test_patches,
        feature=f'{cfg.bof_cfg.stage} bag of features, dim '
                f'{trained["feature_dim"]}',
        train_seconds=round(train_seconds, 1),
        eval_seconds=round(eval_seconds, 1),
        **{f'final_{k}': round(float(hub.get_scalar(f'train/{k}').current()), 4)
           for k in ('loss_tcr', 'loss_inv', 'cos_to_mean')},
        **flatten('empssl', trained), **flatten('random_init', random_init),
        **flatten('raw_pixels', pixels))
    for p in PROTOCOLS:
        result[f'linear_{p}_gain_over_random_init'] = round(
            result[f'empssl_linear_{p}_last_top1']
            - result[f'random_init_linear_{p}_last_top1'], 2)
    from mmeff.apis.benchmarking import print_report
    print_report(result, osp.join(args.out, 'metrics.json'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
