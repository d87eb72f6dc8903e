#!/usr/bin/env python
"""Write the bundled data set without training: Fashion-MNIST (Debian's
dataset-fashion-mnist) as class folders of PNGs and as ESSL storage.

    python tools/dataset_converters/bundled_data.py          # from a clone
    mim run mmeff bundled_data                               # from the wheel

writes, under --data-root (default data/fashion-mnist-mini, where the
bundled-data configs look, relative to the current folder):
train/<class>/*.png (from the official training split), val/<class>/*.png
(from the official test split), meta.json, and train.beton / val.beton with
their sidecars (raw records). The configs for the full training split read
data/fashion-mnist-full:

    mim run mmeff bundled_data --data-root data/fashion-mnist-full \\
        --train-per-class 6000 --no-essl

and the quickstart's data (all 60,000 training images without labels in
unlabelled/images/ and unlabelled.beton, 200 labelled per class, the whole
test split held out) is

    mim run mmeff bundled_data --data-root data/fashion-mnist \\
        --num-unlabelled 60000 --val-per-class 1000

Re-running with the same settings reuses the files. Exit status: 0 done,
2 bad arguments or no Fashion-MNIST on this machine.
"""
import argparse
import os.path as osp
import sys

# Images per class in Fashion-MNIST's official splits.
TRAIN_PER_CLASS, TEST_PER_CLASS = 6000, 1000


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog='bundled_data', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data-root', default='data/fashion-mnist-mini',
                   help='folder to write (default: %(default)s)')
    p.add_argument('--train-per-class', type=int, default=200,
                   help=f'training images per class, 1-{TRAIN_PER_CLASS} '
                   '(default: %(default)s)')
    p.add_argument('--val-per-class', type=int, default=100,
                   help=f'held-out images per class, 1-{TEST_PER_CLASS} '
                   '(default: %(default)s)')
    p.add_argument('--num-unlabelled', type=int, default=0,
                   help='also write this many training images without labels '
                   f'to unlabelled/images/, 0-{10 * TRAIN_PER_CLASS} '
                   '(default: %(default)s)')
    p.add_argument('--no-essl', action='store_true',
                   help='write the class folders only')
    args = p.parse_args(argv)
    for flag, value, most in (
            ('--train-per-class', args.train_per_class, TRAIN_PER_CLASS),
            ('--val-per-class', args.val_per_class, TEST_PER_CLASS)):
        if not 1 <= value <= most:
            p.error(f'{flag} {value}: Fashion-MNIST has 1 to {most} images '
                    'per class in that split')
    if not 0 <= args.num_unlabelled <= 10 * TRAIN_PER_CLASS:
        p.error(f'--num-unlabelled {args.num_unlabelled}: Fashion-MNIST has 0 '
                f'to {10 * TRAIN_PER_CLASS} training images')
    return args


def main(argv=None):
    args = parse_args(argv)
    from mmeff.apis.quickstart import prepare_data
    from mmeff.data import prepare_fashion_mnist
    try:
        if args.no_essl:
            prepare_fashion_mnist(args.data_root, args.train_per_class,
                                  args.val_per_class,
                                  num_unlabelled=args.num_unlabelled)
        else:
            prepare_data(args.data_root, args.train_per_class,
                         args.val_per_class, args.num_unlabelled)
    except FileNotFoundError as err:  # no dataset-fashion-mnist
        print(f'bundled_data: error: {err}', file=sys.stderr)
        return 2
    root = osp.abspath(args.data_root)
    unlabelled = args.num_unlabelled
    print(f'wrote {root}: train/ ({10 * args.train_per_class} images), '
          f'val/ ({10 * args.val_per_class} images)'
          + (f', unlabelled/ ({unlabelled} images)' if unlabelled else '')
          + ('' if args.no_essl else ', train.beton, val.beton')
          + (', unlabelled.beton' if unlabelled and not args.no_essl else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
