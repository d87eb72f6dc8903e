"""Store the teacher's soft labels on every student crop (SRe2L relabel).

    python tools/condense/relabel.py TEACHER_CONFIG TEACHER_CKPT DATA_ROOT \
        OUT_DIR --epochs 300 [--seed 0] [--crop-size 32] [--device cuda]

DATA_ROOT is recover's output folder (its `train` split is relabelled);
OUT_DIR receives epoch_0000.pt ... one per student epoch: random-resized
crops + flips, then CutMix (Beta(1, 1), one box and permutation per
--cutmix-batch-size images; give it the student's batch size, as the
released relabel.sh does) unless --no-cutmix. An OUT_DIR that already holds
epoch files is refused unless --overwrite.
"""
import argparse
import json
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config', help='the teacher\'s (squeeze) config')
    p.add_argument('checkpoint', help='the teacher\'s checkpoint')
    p.add_argument('data_root', help='the condensed set (recover output)')
    p.add_argument('out_dir', help='folder for the per-epoch files')
    p.add_argument('--epochs', type=int, required=True,
                   help='student epochs to label')
    p.add_argument('--data-prefix', default='train')
    p.add_argument('--crop-size', type=int,
                   help='student input side (default: the image side)')
    p.add_argument('--min-crop-scale', type=float, default=0.08)
    p.add_argument('--no-cutmix', action='store_true',
                   help='store plain crops (no CutMix)')
    p.add_argument('--cutmix-batch-size', type=int, default=1024,
                   help='images sharing one CutMix box (released: 1024)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--batch-size', type=int, default=256,
                   help='teacher forward batch')
    p.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N')
    p.add_argument('--no-progress', action='store_true')
    p.add_argument('--overwrite', action='store_true',
                   help='replace the epoch files already in OUT_DIR')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmeff.apis.train import USER_ERRORS
    from mmeff.condense import relabel
    try:
        result = relabel(
            args.config, args.checkpoint, args.data_root, args.out_dir,
            args.epochs, data_prefix=args.data_prefix,
            crop_size=args.crop_size, seed=args.seed,
            scale=(args.min_crop_scale, 1.),
            mix=None if args.no_cutmix else 'cutmix',
            cutmix_batch_size=args.cutmix_batch_size,
            batch_size=args.batch_size,
            device=args.device, progress=not args.no_progress,
            overwrite=args.overwrite)
    except USER_ERRORS as err:  # CondenseError is a DatasetError
        print(f'relabel: error: {err}', file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
