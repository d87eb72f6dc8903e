"""Synthesise a condensed data set from a squeezed teacher (SRe2L recover).

    python tools/condense/recover.py TEACHER_CONFIG TEACHER_CKPT OUT_DIR \
        --ipc 10 --iterations 1000 [--classes-from DIR] [--device cuda]

Writes OUT_DIR/train/<class>/ipc_<i>.png and OUT_DIR/recover.json; a rerun
with the same settings resumes, skipping images already written. A folder
written with other settings (or not by recover) is refused unless
--overwrite, which replaces the images recover wrote there.
"""
import argparse
import json
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config', help='the teacher\'s (squeeze) config')
    p.add_argument('checkpoint', help='the teacher\'s checkpoint')
    p.add_argument('out_dir', help='folder for the condensed set')
    p.add_argument('--ipc', type=int, required=True,
                   help='images per class')
    p.add_argument('--iterations', type=int, default=1000,
                   help='optimisation steps per batch (paper: 1K-4K)')
    p.add_argument('--classes-from',
                   help='class-folder dataset naming the classes (default: '
                   'the teacher config\'s train folder)')
    p.add_argument('--image-size', type=int,
                   help='default: the teacher\'s train crop size')
    p.add_argument('--batch-size', type=int, default=100,
                   help='classes per batch, one image each')
    p.add_argument('--lr', type=float, default=0.25)
    p.add_argument('--r-bn', type=float, default=0.01)
    p.add_argument('--first-bn-multiplier', type=float, default=10.)
    p.add_argument('--min-crop-scale', type=float, default=0.08)
    p.add_argument('--jitter', type=int,
                   help='maximal roll in pixels (default image_size // 8)')
    p.add_argument('--grayscale', action='store_true',
                   help='equal channels, for a teacher squeezed on '
                   'grayscale images')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N')
    p.add_argument('--no-progress', action='store_true')
    p.add_argument('--overwrite', action='store_true',
                   help='replace the images of a folder written with other '
                   'settings')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmeff.apis.train import USER_ERRORS
    from mmeff.condense import recover
    try:
        result = recover(
            args.config, args.checkpoint, args.out_dir, args.ipc,
            classes_from=args.classes_from, image_size=args.image_size,
            iterations=args.iterations, lr=args.lr, r_bn=args.r_bn,
            first_bn_multiplier=args.first_bn_multiplier,
            crop_scale=(args.min_crop_scale, 1.), jitter=args.jitter,
            batch_size=args.batch_size, seed=args.seed,
            grayscale=args.grayscale, device=args.device,
            progress=not args.no_progress, overwrite=args.overwrite)
    except USER_ERRORS as err:  # CondenseError is a DatasetError
        print(f'recover: error: {err}', file=sys.stderr)
        return 2
    keys = ('written', 'skipped', 'seconds', 'image_iterations_per_second',
            'peak_rss_mib', 'peak_cuda_mib')
    print(json.dumps({k: result[k] for k in keys if k in result}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
