#!/usr/bin/env python
"""Pretrain a tiny EMAE without labels on the 60,000 Fashion-MNIST training
images, then ask what it is worth with 2,000 labels: probe its features,
fine-tune it, and compare with the same network fine-tuned from scratch and
trained supervised for the same total wall time, all scored on the 10,000
held-out test images.

Prints one table; writes <work-dir>/metrics.json and
<work-dir>/reconstructions.png.
"""
import argparse
import sys

from mmeff.apis.quickstart import (
    DEFAULT_CONFIG,
    DEFAULT_FINETUNE_CONFIG,
    format_table,
    run_quickstart,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--data-root', default=None,
                        help='where to write the bundled data set')
    parser.add_argument('--iters', type=int, default=None,
                        help="override the config's pretraining iterations")
    parser.add_argument('--finetune-config', default=DEFAULT_FINETUNE_CONFIG)
    parser.add_argument('--finetune-epochs', type=int, default=None,
                        help='override the fine-tuning config\'s epochs '
                        '(both runs)')
    parser.add_argument('--num-unlabelled', type=int, default=60000,
                        help='pretraining images, labels unused (default: '
                        'all 60,000 training images)')
    parser.add_argument('--train-per-class', type=int, default=200,
                        help='labelled images per class (default: 200)')
    parser.add_argument('--val-per-class', type=int, default=1000,
                        help='held-out test images per class (default: '
                        '1000, the whole test split)')
    args = parser.parse_args(argv)
    metrics = run_quickstart(args.config, args.work_dir, args.data_root,
                             args.train_per_class, args.val_per_class,
                             args.num_unlabelled, args.iters,
                             finetune_config_path=args.finetune_config,
                             finetune_epochs=args.finetune_epochs)
    paths = metrics.pop('_paths')
    print('\n' + format_table(metrics))
    print(f"\nmetrics:          {paths['metrics']}")
    print(f"reconstructions:  {paths['reconstructions']}")
    print(f"logs/checkpoints: {paths['work_dir']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
