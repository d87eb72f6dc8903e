"""Synthesise a condensed data set from a squeezed teacher (SRe2L recover).

    python tools/condense/recover.py TEACHER_CONFIG TEACHER_CKPT OUT_DIR \
        --ipc 10 [--preset cifar] [--classes-from DIR] [--device cuda]

Settings default to the authors' released recipe for the image size
(--preset imagenet / cifar / tiny, see mmeff/condense/presets.py); each
option below overrides one of them.

Writes OUT_DIR/train/<class>/ipc_<i>.png and OUT_DIR/recover.json; a rerun
with the same settings resumes, skipping images already written. A folder
written with other settings (or not by recover) is refused unless
--overwrite, which replaces the images recover wrote there.
"""
import argparse
import json
import sys

from mmeff.condense.presets import RECOVER_PRESETS


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config', help='the teacher\'s (squeeze) config')
    p.add_argument('checkpoint', help='the teacher\'s checkpoint')
    p.add_argument('out_dir', help='folder for the condensed set')
    p.add_argument('--ipc', type=int, required=True,
                   help='images per class')
    p.add_argument('--preset', choices=sorted(RECOVER_PRESETS),
                   help='released recipe (default: cifar up to 32 px, tiny '
                   'up to 64 px, imagenet above)')
    p.add_argument('--iterations', type=int,
                   help='optimisation steps per batch')
    p.add_argument('--classes-from',
                   help='class-folder dataset naming the classes (default: '
                   'the teacher config\'s train folder)')
    p.add_argument('--image-size', type=int,
                   help='default: the teacher\'s train crop size')
    p.add_argument('--batch-size', type=int,
                   help='classes per batch, one image each')
    p.add_argument('--lr', type=float)
    p.add_argument('--r-bn', type=float)
    p.add_argument('--first-bn-multiplier', type=float)
    crop = p.add_mutually_exclusive_group()
    crop.add_argument('--min-crop-scale', type=float,
                      help='random-resized crop of area fraction X-1 at '
                      'every step')
    crop.add_argument('--no-crop', action='store_true',
                      help='no random-resized crop (the cifar recipe)')
    p.add_argument('--flip', action=argparse.BooleanOptionalAction,
                   help='random horizontal flip at every step')
    p.add_argument('--jitter', type=int,
                   help='roll by 0..N pixels per axis (the released '
                   '--jitter)')
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
        crop = 'preset'
        if args.no_crop:
            crop = None
        elif args.min_crop_scale is not None:
            crop = (args.min_crop_scale, 1.)
        result = recover(
            args.config, args.checkpoint, args.out_dir, args.ipc,
            classes_from=args.classes_from, image_size=args.image_size,
            preset=args.preset, iterations=args.iterations, lr=args.lr,
            r_bn=args.r_bn, first_bn_multiplier=args.first_bn_multiplier,
            crop_scale=crop, flip=args.flip,
            shift=None if args.jitter is None else (0, args.jitter),
            batch_size=args.batch_size, seed=args.seed,
            grayscale=args.grayscale, device=args.device,
            progress=not args.no_progress, overwrite=args.overwrite)
    except USER_ERRORS as err:  # CondenseError is a DatasetError
        print(f'recover: error: {err}', file=sys.stderr)
        return 2
    keys = ('preset', 'iterations', 'written', 'skipped', 'redone', 'seconds',
            'image_iterations_per_second', 'peak_rss_mib', 'peak_cuda_mib')
    print(json.dumps({k: result[k] for k in keys if k in result}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
