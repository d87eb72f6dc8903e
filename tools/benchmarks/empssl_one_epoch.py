#!/usr/bin/env python
"""EMP-SSL, one epoch on the bundled Fashion-MNIST subset, CPU.

Pretrains EMP-SSL for one epoch through a real MMEngine Runner, then fits a
linear probe (last step reported) and a weighted kNN (k=20, T=0.07) on
held-out images for three representations: the EMP-SSL bag of features
(mean pre-feature over the test patches), the same network at random
initialisation (same bag of features), and raw pixels. Prints JSON.

  python tools/benchmarks/empssl_one_epoch.py --out work_dirs/bench_empssl
"""
import argparse
import copy
import json
import os.path as osp
import sys
import time

from mmengine.config import DictAction

CONFIG = 'configs/empssl/empssl_resnet18-cifar-w16_1xb50-n16-1e_fashion-mnist.py'


def raw_pixels(model, loader):
    import torch
    from mmeff.evaluation import preprocess
    data = [preprocess(model, b) for b in loader]
    x = torch.cat([inputs.flatten(1) for inputs, _ in data])
    y = torch.cat([s.gt_label for _, samples in data for s in samples])
    return x, y


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--out', default='work_dirs/bench_empssl_one_epoch',
                        help='work dir (logs, checkpoint, metrics.json)')
    parser.add_argument('--data-root', default=None)
    parser.add_argument('--train-per-class', type=int, default=600)
    parser.add_argument('--val-per-class', type=int, default=100)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. '
                        'train_dataloader.batch_size=50')
    args = parser.parse_args(argv)

    import torch
    from mmengine.runner import Runner
    from mmpretrain.registry import MODELS

    from mmeff.apis.train import build_runner
    from mmeff.data import prepare_fashion_mnist
    from mmeff.engine.config import load_config
    from mmeff.evaluation import knn_top1, linear_probe_top1
    from mmeff.models.empssl import probe_bag_of_features

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

    runner = build_runner(copy.deepcopy(cfg), loaders=('train_dataloader',))
    start = time.perf_counter()
    runner.train()
    train_seconds = time.perf_counter() - start
    hub = runner.message_hub
    num_train = len(runner.train_dataloader.dataset)

    loaders = {k: Runner.build_dataloader(copy.deepcopy(v))
               for k, v in cfg.bof_dataloaders.items()}
    stage = cfg.bof_cfg.stage
    start = time.perf_counter()
    trained = probe_bag_of_features(runner.model, loaders['train'],
                                    loaders['val'], stage, num_classes)
    eval_seconds = time.perf_counter() - start

    torch.manual_seed(cfg.randomness.seed)
    fresh = MODELS.build(cfg.model)
    fresh.init_weights()
    random_init = probe_bag_of_features(fresh, loaders['train'],
                                        loaders['val'], stage, num_classes)

    pixel_loaders = {}
    for split, loader_cfg in cfg.bof_dataloaders.items():
        loader_cfg = copy.deepcopy(loader_cfg)
        loader_cfg.dataset.pipeline = cfg.pixel_pipeline
        pixel_loaders[split] = Runner.build_dataloader(loader_cfg)
    (xtr, ytr), (xva, yva) = (raw_pixels(fresh, pixel_loaders['train']),
                              raw_pixels(fresh, pixel_loaders['val']))
    pixels = dict(linear_top1=linear_probe_top1(xtr, ytr, xva, yva,
                                                num_classes=num_classes),
                  knn_top1=knn_top1(xtr, ytr, xva, yva,
                                    num_classes=num_classes))

    model_cfg = cfg.model
    result = dict(
        command=' '.join([osp.join('tools', 'benchmarks',
                                   osp.basename(__file__))] + sys.argv[1:]),
        config=args.config,
        dataset=f"fashion-mnist ({data_root})",
        num_train=num_train, num_val=trained['num_val'],
        num_classes=num_classes,
        epochs=runner.epoch, iterations=runner.iter,
        batch_size=cfg.train_dataloader.batch_size,
        num_patches=model_cfg.num_patches,
        test_patches=cfg.bof_cfg.test_patches,
        feature=f'{stage} bag of features, dim {trained["feature_dim"]}',
        train_seconds=round(train_seconds, 1),
        train_images_per_second=round(num_train * runner.epoch / train_seconds, 1),
        eval_seconds=round(eval_seconds, 1),
        final_loss_tcr=round(float(hub.get_scalar('train/loss_tcr').current()), 3),
        final_loss_inv=round(float(hub.get_scalar('train/loss_inv').current()), 3),
        final_cos_to_mean=round(float(hub.get_scalar('train/cos_to_mean').current()), 4),
        empssl_linear_top1=round(trained['linear_top1'], 2),
        empssl_knn_top1=round(trained['knn_top1'], 2),
        random_init_linear_top1=round(random_init['linear_top1'], 2),
        random_init_knn_top1=round(random_init['knn_top1'], 2),
        raw_pixels_linear_top1=round(pixels['linear_top1'], 2),
        raw_pixels_knn_top1=round(pixels['knn_top1'], 2),
    )
    result['linear_gain_over_random_init'] = round(
        result['empssl_linear_top1'] - result['random_init_linear_top1'], 2)
    result['target_met'] = result['linear_gain_over_random_init'] >= 10.0
    with open(osp.join(args.out, 'metrics.json'), 'w') as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
