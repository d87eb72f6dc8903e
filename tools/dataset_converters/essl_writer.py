#!/usr/bin/env python
r"""Convert images to ESSL storage (an FFCV .beton file plus a sidecar).

ImageNet-style class folders:
    python tools/dataset_converters/essl_writer.py data/imagenet/train \
        data/imagenet/train_500_q90.beton --max-resolution 500 \
        --jpeg-quality 90 --write-mode jpg --workers 32

An MMPretrain annotation list (``<path relative to SOURCE> <label>``):
    python tools/dataset_converters/essl_writer.py data/imagenet/val \
        data/imagenet/val.beton --ann-file data/imagenet/meta/val.txt \
        --classes data/imagenet/meta/classes.txt
"""
import argparse
import sys
import warnings

MODES = ('raw', 'jpg', 'png', 'proportion', 'smart')


class HelpFormatter(argparse.RawDescriptionHelpFormatter,
                    argparse.ArgumentDefaultsHelpFormatter):
    """The whole description as written, and each option's default where
    it has one (an unset option's help says what happens instead)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog='essl_writer', description=__doc__,
        formatter_class=HelpFormatter)
    p.add_argument('source', help='class-folder root, or the prefix of the '
                   'paths in --ann-file')
    p.add_argument('output', help='the .beton file to write')
    p.add_argument('--ann-file', help='MMPretrain annotation list '
                   '(default: every image of the class folders)')
    p.add_argument('--classes', help='file with one class name per line '
                   '(default: the sorted class folder names)')
    p.add_argument('--write-mode', default='jpg', choices=MODES,
                   help='how each image is stored')
    p.add_argument('--max-resolution', type=int, default=None,
                   help='shrink the longer side to at most this (e.g. 500; '
                   'default: keep every image\'s size)')
    p.add_argument('--jpeg-quality', type=int, default=90,
                   help='JPEG quality of jpg / proportion / smart records')
    p.add_argument('--compress-probability', type=float, default=0.5,
                   help="JPEG share for --write-mode proportion")
    p.add_argument('--smart-threshold', type=int, default=None,
                   help='raw bytes above which smart mode JPEG-codes '
                   '(required with --write-mode smart)')
    p.add_argument('--workers', type=int, default=None,
                   help='processes (default: all CPUs)')
    p.add_argument('--chunk-size', type=int, default=100,
                   help='images per work unit of a writer process')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the per-image draws of proportion mode')
    p.add_argument('--restart-interval', type=int, default=4,
                   help='JPEG restart marker every N MCUs (0: none); crop '
                   'decode then entropy-decodes only the crop\'s intervals')
    p.add_argument('--strict', action='store_true',
                   help='fail on the first unreadable file')
    p.add_argument('--overwrite', action='store_true',
                   help='replace an existing output and its sidecar')
    p.add_argument('--no-progress', action='store_true',
                   help='no progress bar')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmeff.data.essl import write_essl
    from mmeff.data.essl.writer import ESSLWriteError

    # One line per skipped file, without the source location.
    warnings.formatwarning = lambda msg, *a, **k: f'warning: {msg}\n'
    try:
        meta = write_essl(
            args.source, args.output, ann_file=args.ann_file,
            classes=args.classes, write_mode=args.write_mode,
            max_resolution=args.max_resolution,
            jpeg_quality=args.jpeg_quality,
            compress_probability=args.compress_probability,
            smart_threshold=args.smart_threshold, num_workers=args.workers,
            chunk_size=args.chunk_size, strict=args.strict,
            progress=not args.no_progress, seed=args.seed,
            restart_interval=args.restart_interval,
            overwrite=args.overwrite)
    except ESSLWriteError as err:  # a fault part-way, not a bad option
        print(f'essl_writer: error: {err}', file=sys.stderr)
        return 1
    except (OSError, ValueError) as err:
        print(f'essl_writer: error: {err}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'essl_writer: interrupted; {args.output} and its sidecar were '
              'left as they were (nothing half-written remains); run the '
              'same command again to convert', file=sys.stderr)
        return 130
    modes = ', '.join(f'{k} {v}' for k, v in meta['record_modes'].items())
    print(f'wrote {meta["num_samples"]} images ({modes}; '
          f'{len(meta["classes"])} classes; {meta["file_bytes"] / 2**20:.1f}'
          f' MiB) to {args.output}; skipped {meta["num_skipped"]} '
          f'(listed in {args.output}.meta.json)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
