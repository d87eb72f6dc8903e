#!/usr/bin/env python
"""Bag-of-features evaluation of an EMP-SSL checkpoint.

Tong, Chen, Ma, LeCun (2023), "EMP-SSL", Sec. 4, as the released
evaluation (tsb0601/EMP-SSL, evaluate.py and func.py): the representation of
an image is the mean pre-feature over many augmented patches (128 by
default); a linear probe and a weighted kNN (k=20, T=0.07) are fitted on the
training split and scored on the held-out split.

Linear probe (``--protocol``, default ``bof_cfg.protocol``, else reference):
  reference  the release's func.linear: SGD lr 0.03, momentum 0.9, weight
             decay 5e-5, batch 100, 100 epochs, cosine per epoch, on the raw
             bag of features; reports the last epoch (``linear_top1``) and
             the best epoch on the test split (``linear_best_top1``, as the
             release prints it).
  fast       mmeff's probe: 100 full-batch AdamW steps on standardised
             features, last step (``linear_top1``).
See mmeff/evaluation/bag_of_features.py.

  python tools/empssl_eval.py CONFIG CHECKPOINT [--test-patches 128]
      [--stage pre_feature] [--protocol reference|fast] [--out metrics.json]
      [--cfg-options k=v ...]

The config's ``bof_dataloaders`` (train/val) and ``bof_cfg`` describe the
data; exits with code 2 and one line ``empssl_eval: error: ...`` on a
missing config, checkpoint or data folder.
"""
import argparse
import json
import sys

from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='EMP-SSL bag-of-features '
                                     'linear probe and kNN')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--test-patches', type=int, default=None,
                        help='patches per image (default: bof_cfg.test_patches)')
    parser.add_argument('--stage', default=None,
                        choices=['backbone', 'pre_feature', 'projection'],
                        help='feature to average (default: bof_cfg.stage)')
    parser.add_argument('--protocol', default=None,
                        choices=['reference', 'fast'],
                        help='linear probe (default: bof_cfg.protocol, else '
                        'reference)')
    parser.add_argument('--out', default=None, help='write the metrics JSON')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, load_checkpoint
    from mmpretrain.registry import MODELS

    import mmeff  # noqa: F401  registers components and the safe loader
    from mmeff.apis.train import USER_ERRORS
    from mmeff.data.checks import check_data_paths
    from mmeff.engine.checkpoint import check_checkpoint
    from mmeff.engine.config import ConfigError, load_config
    from mmeff.engine.outputs import atomic_write_bytes, refuse_existing
    from mmeff.evaluation import LINEAR_PROTOCOLS, probe_bag_of_features

    try:
        if args.out:  # before the probe, not after it
            refuse_existing(args.out, args.overwrite)
        cfg = load_config(args.config, args.cfg_options)
        # Type names in the config resolve in its scope, as under a Runner.
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
        if 'bof_dataloaders' not in cfg:
            raise ConfigError(f'{args.config}: no `bof_dataloaders` '
                              '(train/val loaders of MultiPatch batches)')
        check_checkpoint(args.checkpoint)
        if args.test_patches is not None and args.test_patches < 1:
            raise ConfigError('--test-patches must be >= 1, got '
                              f'{args.test_patches}')
        bof_cfg = cfg.get('bof_cfg', {})
        stage = args.stage or bof_cfg.get('stage', 'pre_feature')
        test_patches = args.test_patches or bof_cfg.get('test_patches')
        protocol = args.protocol or bof_cfg.get('protocol', 'reference')
        if protocol not in LINEAR_PROTOCOLS:
            raise ConfigError(f'{args.config}: bof_cfg.protocol must be one '
                              f'of {LINEAR_PROTOCOLS}, got {protocol!r}')
        for split in ('train', 'val'):
            for step in cfg.bof_dataloaders[split].dataset.pipeline:
                if step['type'] == 'MultiPatch' and test_patches:
                    step['num_patches'] = test_patches
        check_data_paths(cfg.bof_dataloaders, ('train', 'val'))
        model = MODELS.build(cfg.model)
        load_checkpoint(model, args.checkpoint, map_location='cpu',
                        strict=True)
    except USER_ERRORS as err:
        print(f'empssl_eval: error: {err}', file=sys.stderr)
        return 2
    loaders = {k: Runner.build_dataloader(v)
               for k, v in cfg.bof_dataloaders.items()}
    result = probe_bag_of_features(model, loaders['train'], loaders['val'],
                                   stage, protocols=(protocol,))
    linear = result['linear'][protocol]
    result = dict(config=args.config, checkpoint=args.checkpoint, stage=stage,
                  test_patches=test_patches, protocol=protocol,
                  linear_top1=round(linear['last_top1'], 2),
                  **({'linear_best_top1': round(linear['best_top1'], 2)}
                     if 'best_top1' in linear else {}),
                  knn_top1=round(result['knn_top1'], 2),
                  num_train=result['num_train'], num_val=result['num_val'],
                  feature_dim=result['feature_dim'])
    if args.out:
        atomic_write_bytes(args.out, json.dumps(result, indent=2).encode())
    print(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
