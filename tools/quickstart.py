#!/usr/bin/env python
"""Pretrain a tiny EMAE on the bundled Fashion-MNIST subset, probe it, and
fine-tune it next to the same network from scratch.

Writes <work-dir>/metrics.json and <work-dir>/reconstructions.png.
"""
import argparse
import json
import sys

from mmeff.apis.quickstart import (
    DEFAULT_CONFIG,
    DEFAULT_FINETUNE_CONFIG,
    run_quickstart,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--data-root', default=None,
                        help='where to write the bundled data set')
    parser.add_argument('--epochs', type=int, default=None,
                        help='override the config\'s pretraining epochs')
    parser.add_argument('--finetune-config', default=DEFAULT_FINETUNE_CONFIG)
    parser.add_argument('--finetune-epochs', type=int, default=None,
                        help='override the fine-tuning config\'s epochs '
                        '(both runs)')
    parser.add_argument('--train-per-class', type=int, default=200)
    parser.add_argument('--val-per-class', type=int, default=100)
    args = parser.parse_args(argv)
    metrics = run_quickstart(args.config, args.work_dir, args.data_root,
                             args.train_per_class, args.val_per_class,
                             args.epochs,
                             finetune_config_path=args.finetune_config,
                             finetune_epochs=args.finetune_epochs)
    paths = metrics.pop('_paths')
    print(json.dumps(metrics, indent=2))
    print(f"\nmetrics:          {paths['metrics']}")
    print(f"reconstructions:  {paths['reconstructions']}")
    print(f"logs/checkpoints: {paths['work_dir']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
