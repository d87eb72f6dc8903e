"""ESSL decoder options and restart intervals: speed and pixels.

On the loader benchmark's images (``loader_throughput.py``'s, made the same
way), for outputs 224, 160 and 112 (RandomResizedCrop, area fraction
``--crop-ratio-range``, the loader's boxes of epoch 0, bilinear):

* options -- libjpeg's merged chroma upsampling instead of its smooth one
  (``jpeg_fancy_upsampling=False``) and its fast integer IDCT
  (``use_fast_idct=True``), alone and together, named as DALI's decoder
  options: the decode cost in core-ms per image (the loader's compiled
  batch kernel on one thread, DCT scaling on as the loader runs it) and
  the pixels, as max / mean absolute difference and PSNR (0-255) against
  (a) a full decode followed by the same resize of the box (``cv2.imdecode``
  + ``cv2.resize``, DCT scaling off so the resize is the same) and (b) the
  default options' output with DCT scaling on (what a loader user sees
  change);
* restart intervals -- the same file written with a restart marker every
  1, 2 and 4 MCUs (``--restart-intervals``): decode cost per image with the
  default options, and the image records' bytes.

Variants are timed in alternating rounds (``--rounds``; the fastest round of
each is kept), so a busy machine slows them alike; ratios are to the first
variant. Prints JSON.

    python tools/benchmarks/decode_options.py --out docs/results/decode_options.json
"""
import argparse
import sys

import numpy as np

from mmeff.apis.benchmarking import essl_record_bytes

OPTIONS = {
    'default': {},
    'merged_upsampling': dict(jpeg_fancy_upsampling=False),
    'fast_idct': dict(use_fast_idct=True),
    'merged_upsampling+fast_idct': dict(jpeg_fancy_upsampling=False,
                                        use_fast_idct=True),
}


def _parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-images', type=int, default=2000)
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[224, 160, 112])
    parser.add_argument('--crop-ratio-range', type=float, nargs=2,
                        default=[0.2, 1.0])
    parser.add_argument('--restart-intervals', type=int, nargs='+',
                        default=[4, 2, 1])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--pixel-images', type=int, default=300,
                        help='images compared pixel by pixel per size')
    parser.add_argument('--jpeg-quality', type=int, default=90)
    parser.add_argument('--work-dir', default='work_dirs/loader_throughput')
    parser.add_argument('--out', help='also write the JSON here')
    return parser.parse_args(argv)


def write_files(args):
    """The benchmark images and one ESSL file per restart interval."""
    from mmeff.apis.benchmarking import loader_benchmark_files
    return loader_benchmark_files(args.work_dir, args.num_images,
                                  args.restart_intervals,
                                  quality=args.jpeg_quality)[1]


def _loader(beton, size, args, **options):
    from mmeff.data.essl import ESSLLoader
    return ESSLLoader(beton, 64, dict(
        type='RandomResizedCrop', scale=size,
        crop_ratio_range=tuple(args.crop_ratio_range), **options),
        num_workers=1, shuffle=False, verify=False)


def _epoch_ms(loader):
    """Core-ms per image to decode epoch 0's boxes of every record."""
    from mmeff.apis.benchmarking import timed
    n = len(loader.dataset)
    h, w = loader.output_size
    out = np.zeros((64, 3, h, w), np.uint8)
    status = np.zeros(64, np.int32)
    samples = np.arange(n, dtype=np.int64)

    def run():
        for start in range(0, n, 64):
            batch = samples[start:start + 64]
            loader.decode_into(batch, 0, out[:len(batch)],
                               status[:len(batch)])
            if status[:len(batch)].any():
                raise RuntimeError('decode failed')

    _, seconds = timed(run)
    return seconds * 1e3 / n


def alternate(loaders, rounds):
    """Fastest of ``rounds`` alternating epochs per variant (ms/image)."""
    for loader in loaders.values():
        _epoch_ms(loader)  # compiles, maps the file
    best = {name: float('inf') for name in loaders}
    for _ in range(rounds):
        for name, loader in loaders.items():
            best[name] = min(best[name], _epoch_ms(loader))
    return best


def _boxes(beton, size, args, count):
    """The loader's epoch-0 RandomResizedCrop boxes of the first ``count``
    records, with the record table."""
    import numba

    from mmeff.data.essl.decoders import random_resized_crop_box, sample_key
    loader = _loader(beton, size, args)
    table = loader._table()
    box = numba.njit(random_resized_crop_box)

    @numba.njit
    def all_boxes(heights, widths, seed, a0, a1, a2, a3, a4, n):
        out = np.zeros((n, 4), np.int64)
        for s in range(n):
            t, x, h, w = box(heights[s], widths[s], a0, a1, a2, a3, a4,
                             sample_key(seed, np.uint64(0), np.uint64(s)))
            out[s, 0], out[s, 1], out[s, 2], out[s, 3] = t, x, h, w
        return out

    a0, a1, a2, a3, a4 = loader.decoder.box_args()
    n = min(count, len(loader.dataset))
    boxes = all_boxes(table['heights'], table['widths'],
                      np.uint64(loader.seed), np.float64(a0), np.float64(a1),
                      np.float64(a2), np.float64(a3), np.int64(a4), n)
    return table, [tuple(int(v) for v in b) for b in boxes]


def _diff(a, b):
    d = np.abs(a.astype(np.int64) - b.astype(np.int64))
    mse = float((d.astype(np.float64) ** 2).mean())
    psnr = 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
    return dict(max=int(d.max()), mean=round(float(d.mean()), 4),
                psnr_db=round(float(psnr), 2))


def _decode(data, table, s, box, size, dct, **options):
    from mmeff.data.essl import _lib
    dst = np.zeros((size, size, 3), np.uint8)
    scratch = np.empty(int(table['heights'][s]) * int(table['widths'][s]) * 3,
                       np.uint8)
    status = _lib.decode_crop(data, 0, int(table['heights'][s]),
                              int(table['widths'][s]), box, scratch, dst, 1,
                              dct_scaling=dct, **options)
    if status != _lib.OK:
        raise RuntimeError(f'record {s}: status {status}')
    return dst


def pixel_table(beton, size, args):
    """Max / mean |difference| and PSNR of each option set (see above)."""
    import cv2

    from mmeff.data.essl.reader import ESSLRecords
    records = ESSLRecords(beton)
    table, boxes = _boxes(beton, size, args, args.pixel_images)
    got = {name: ([], []) for name in OPTIONS}
    refs_full, refs_default = [], []
    for s, box in enumerate(boxes):
        data = records.raw_bytes(s)
        top, left, h, w = box
        full = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR),
                            cv2.COLOR_BGR2RGB)
        refs_full.append(cv2.resize(full[top:top + h, left:left + w],
                                    (size, size),
                                    interpolation=cv2.INTER_LINEAR))
        refs_default.append(_decode(data, table, s, box, size, True))
        for name, options in OPTIONS.items():
            got[name][0].append(_decode(data, table, s, box, size, False,
                                        **options))
            got[name][1].append(_decode(data, table, s, box, size, True,
                                        **options))
    return {name: dict(vs_full_decode=_diff(np.stack(a), np.stack(refs_full)),
                       vs_default=_diff(np.stack(b), np.stack(refs_default)))
            for name, (a, b) in got.items()}


def main():
    args = _parse()
    files = write_files(args)
    first = files[args.restart_intervals[0]]
    report = dict(setup=dict(num_images=args.num_images, sizes=args.sizes,
                             crop_ratio_range=args.crop_ratio_range,
                             interpolation='bilinear', rounds=args.rounds,
                             options_file_restart_interval=(
                                 args.restart_intervals[0]),
                             jpeg_quality=args.jpeg_quality),
                  options={}, restart_intervals={})
    for size in args.sizes:
        ms = alternate({name: _loader(first, size, args, **options)
                        for name, options in OPTIONS.items()}, args.rounds)
        pixels = pixel_table(first, size, args)
        report['options'][str(size)] = {
            name: dict(core_ms_per_image=round(ms[name], 4),
                       speed_ratio=round(ms['default'] / ms[name], 3),
                       **pixels[name]) for name in OPTIONS}
        print(f'options @{size}: ' + ', '.join(
            f'{k} {v:.3f} ms' for k, v in ms.items()), file=sys.stderr)
    for size in args.sizes:
        ms = alternate({interval: _loader(files[interval], size, args)
                        for interval in args.restart_intervals}, args.rounds)
        base = ms[args.restart_intervals[0]]
        report['restart_intervals'][str(size)] = {
            str(k): dict(core_ms_per_image=round(v, 4),
                         speed_ratio=round(base / v, 3)) for k, v in ms.items()}
        print(f'intervals @{size}: ' + ', '.join(
            f'{k}: {v:.3f} ms' for k, v in ms.items()), file=sys.stderr)
    sizes = {str(k): essl_record_bytes(v) for k, v in files.items()}
    report['record_bytes'] = dict(
        sizes, **{f'ratio_{k}': round(v / sizes[str(args.restart_intervals[0])],
                                      4) for k, v in sizes.items()})
    from mmeff.apis.benchmarking import print_report
    print_report(report, args.out, indent=1)


if __name__ == '__main__':
    main()
