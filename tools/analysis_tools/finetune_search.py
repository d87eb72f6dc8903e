#!/usr/bin/env python
"""Search the quickstart's fine-tuning recipe on the labelled split only.

The 2,000 labelled training images are split per class into a fitting part
and a validation part (``--fit-per-class``, seeded); every candidate recipe
fine-tunes the same pretrained encoder on the first and is scored on the
second. The held-out test images are never read. Candidates are
``--cfg-options``-style overrides of the fine-tuning config, given as JSON
objects (one per candidate) or taken from ``--grid``; each run's top-1 and
wall time go to ``--out`` as JSON.

  python tools/analysis_tools/finetune_search.py \\
      --checkpoint work_dirs/<quickstart>/pretrained_backbone.pth \\
      --out docs/results/finetune_search.json
"""
import argparse
import json
import os
import os.path as osp
import random
import sys


def write_split(data_root, fit_per_class, seed=0):
    """``(fit.beton, holdout.beton)`` from ``<data_root>/train``'s folders."""
    from mmeff.data.essl import write_essl
    train = osp.join(data_root, 'train')
    out = osp.join(data_root, f'search-fit{fit_per_class}-seed{seed}')
    os.makedirs(out, exist_ok=True)
    classes = sorted(os.listdir(train))
    lines = {'fit': [], 'holdout': []}
    rng = random.Random(seed)
    for label, name in enumerate(classes):
        files = sorted(os.listdir(osp.join(train, name)))
        rng.shuffle(files)
        lines['fit'] += [f'{name}/{f} {label}' for f in files[:fit_per_class]]
        lines['holdout'] += [f'{name}/{f} {label}' for f in files[fit_per_class:]]
    paths = []
    for part, rows in lines.items():
        beton = osp.join(out, f'{part}.beton')
        if not osp.isfile(beton):
            ann = osp.join(out, f'{part}.txt')
            with open(ann, 'w') as f:
                f.write('\n'.join(rows) + '\n')
            write_essl(train, beton, ann_file=ann, classes=classes,
                       write_mode='raw', num_workers=2, progress=False)
        paths.append(beton)
    return tuple(paths)


def parse_args(argv):
    from mmeff.apis.quickstart import DEFAULT_FINETUNE_CONFIG
    parser = argparse.ArgumentParser(
        prog='finetune_search', description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--config', default=DEFAULT_FINETUNE_CONFIG)
    parser.add_argument('--checkpoint', default=None,
                        help='exported backbone (default: from scratch)')
    parser.add_argument('--data-root', default='data/fashion-mnist')
    parser.add_argument('--fit-per-class', type=int, default=160,
                        help='fitting images per class; the rest of the '
                        '200 validate (default: 160)')
    parser.add_argument('--candidates', nargs='+', default=['{}'],
                        help='JSON objects of config overrides, e.g. '
                        '\'{"max_epochs": 10, "optim_wrapper.optimizer.lr": '
                        '0.002}\' (default: the config as it is)')
    parser.add_argument('--work-dir', default='work_dirs/finetune_search')
    parser.add_argument('--out', required=True, help='JSON report')
    args = parser.parse_args(argv)
    try:
        args.candidates = [json.loads(text) for text in args.candidates]
    except json.JSONDecodeError as err:
        parser.error(f'--candidates: not a JSON object ({err})')
    return args


def search(args):
    """Fine-tune each candidate on the split; the report."""
    from mmeff.apis.quickstart import finetune_config, train_and_score
    fit, holdout = write_split(args.data_root, args.fit_per_class)
    rows = []
    for i, overrides in enumerate(args.candidates):
        cfg = finetune_config(args.config,
                              osp.join(args.work_dir, f'candidate_{i}'), None,
                              args.checkpoint, train_path=fit,
                              val_path=holdout, overrides=overrides)
        top1, seconds = train_and_score(cfg)
        rows.append(dict(overrides=overrides, holdout_top1=top1,
                         seconds=round(seconds, 1)))
        print(json.dumps(rows[-1]), flush=True)
    return dict(config=args.config, checkpoint=args.checkpoint,
                fit=fit, holdout=holdout, candidates=rows,
                best=max(rows, key=lambda r: r['holdout_top1']))


def main(argv=None):
    args = parse_args(argv)
    from mmeff.apis.train import USER_ERRORS
    from mmeff.fileio import atomic_write_bytes
    try:
        report = search(args)
    except (*USER_ERRORS, FileNotFoundError) as err:
        print(f'finetune_search: error: {err}', file=sys.stderr)
        return 2
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    atomic_write_bytes(args.out, json.dumps(report, indent=2).encode())
    print(json.dumps(report['best']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
