"""Loader throughput: MMPretrain vs torchvision vs stock FFCV vs mmeff ESSL.

One run, the same images, the same worker count and batch size, outputs 224,
160 and 112 (RandomResizedCrop, area fraction ``--crop-ratio-range``), for
each interpolation in ``--interpolations``:

  (a) mmpretrain: CustomDataset + LoadImageFromFile + RandomResizedCrop (cv2
      backend) + PackInputs in a torch DataLoader (default_collate);
  (a') mmpretrain_mae (bicubic only): the upstream MAE config's pipeline,
      RandomResizedCrop with the pillow backend, bicubic;
  (b) torchvision: ImageFolder + RandomResizedCrop + PILToTensor in a torch
      DataLoader (bilinear only);
  (c) ffcv: stock ``RandomResizedCropRGBImageDecoder`` on the ESSL file
      (bilinear only: its resize is fixed);
  (d) mmeff: ``ESSLLoader`` with the crop decoder (MMPretrain batches), on
      JPEGs without restart markers, and mmeff_rst on the same images stored
      with a restart marker every ``--restart-interval`` MCUs
      (mmeff_rst_noverify: without the CRC check; mmeff_rst_fast: with the
      decoder options ``jpeg_fancy_upsampling=False, use_fast_idct=True``);
  (f) limit / limit_rst: the decode-only limit -- the same crop boxes (same
      seed, epoch, order) decoded by the loader's own compiled batch kernel
      on the same number of threads, batch by batch, with nothing around it.

Each (method, size, interpolation) runs in its own process: one warm-up
epoch (worker start, JIT compilation) then ``--timed-epochs`` timed ones
(median images/s). Peak memory is the largest sum of PSS (proportional set
size, so pages shared between DataLoader workers count once) over the
process tree, sampled every 0.1 s. For the mmeff methods and the limits one
more epoch is profiled: the decoder's stages (splice of restart intervals,
entropy decode + IDCT + colour, resize, CHW layout) in core-ms per image and
the consumer side of ``ESSLLoader`` (waiting, data samples, batch
transforms) in wall ms per image.

Also the CPU cost of cutting crop streams for a GPU decoder (the loader's
boxes, :func:`mmeff.data.essl.crop_stream`'s work) per image.

Test images: ``--num-images`` JPEGs (quality 90) of 500x375 or 375x500, cut
at random positions and scales from the real photographs shipped in
scikit-image (``skimage.data``) -- no download needed. Prints JSON, with
the single-thread cost of a full and of a 1/8-scale JPEG decode per image as
a reference, and the file sizes with and without restart markers.

    python tools/benchmarks/loader_throughput.py --num-images 2000 --workers 2
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import threading

import numpy as np

METHODS = ('mmpretrain', 'mmpretrain_mae', 'torchvision', 'ffcv', 'mmeff',
           'mmeff_rst', 'mmeff_rst_noverify', 'mmeff_rst_fast', 'limit',
           'limit_rst')
# The decoder options of mmeff_rst_fast (not the defaults: docs/essl.md).
FAST_OPTIONS = dict(jpeg_fancy_upsampling=False, use_fast_idct=True)
# Methods whose resize is fixed or that stand for one published pipeline.
BILINEAR_ONLY = ('torchvision', 'ffcv')
BICUBIC_ONLY = ('mmpretrain_mae', )
# (numerator, denominator) pairs reported per size and interpolation.
RATIOS = (('mmeff', 'mmpretrain'), ('mmeff_rst', 'mmpretrain'),
          ('mmeff_rst', 'mmpretrain_mae'), ('mmeff', 'mmpretrain_mae'),
          ('mmeff', 'ffcv'),
          ('mmeff', 'torchvision'), ('ffcv', 'mmpretrain'),
          ('mmeff', 'limit'), ('mmeff_rst', 'limit_rst'),
          ('limit_rst', 'limit'), ('mmeff_rst', 'mmeff'),
          ('mmeff_rst', 'mmeff_rst_noverify'),
          ('mmeff_rst_fast', 'mmpretrain'), ('mmeff_rst_fast', 'mmeff_rst'))


def _pss_tree(pid):
    import psutil
    total = 0
    try:
        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            total += p.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


class PeakMemory:
    """Peak PSS of this process and its children, sampled in a thread."""

    def __init__(self, interval=0.1):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _pss_tree(os.getpid()))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _pss_tree(os.getpid()))


def _torch_loader(dataset, args, collate):
    from torch.utils.data import DataLoader
    return DataLoader(dataset, batch_size=args.batch_size, shuffle=True,
                      num_workers=args.workers, persistent_workers=True,
                      drop_last=False, collate_fn=collate)


def _mmpretrain(size, interp, backend, args):
    from mmengine.dataset import default_collate
    from mmpretrain.datasets import CustomDataset
    from mmpretrain.utils import register_all_modules
    register_all_modules()
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='RandomResizedCrop', scale=size,
                     crop_ratio_range=tuple(args.crop_ratio_range),
                     backend=backend, interpolation=interp),
                dict(type='PackInputs')]
    ds = CustomDataset(data_root=args.image_dir, pipeline=pipeline)
    return _torch_loader(ds, args, default_collate)


def _essl_loader(beton, size, interp, args, verify=True, **options):
    from mmeff.data.essl import ESSLLoader
    return ESSLLoader(beton, args.batch_size, dict(
        type='RandomResizedCrop', scale=size, interpolation=interp,
        crop_ratio_range=tuple(args.crop_ratio_range), **options),
        num_workers=args.workers, shuffle=True, drop_last=False,
        verify=verify)


def _stock_field():
    """FFCV's own image field over ESSL's record index.

    An ESSL record is FFCV's (mode, width, height, data pointer) plus a
    CRC-32: with this layout FFCV's decoders read the columns they know,
    and the JPEG / raw records themselves are FFCV's.
    """
    from ffcv.fields import RGBImageField

    from mmeff.data.essl.field import ESSLImageField

    class StockReadable(RGBImageField):
        metadata_type = ESSLImageField.metadata_type

        @staticmethod
        def from_binary(binary):
            return StockReadable()

    return StockReadable


def _stock_ffcv(size, args):
    from ffcv.fields.basics import IntDecoder
    from ffcv.fields.rgb_image import RandomResizedCropRGBImageDecoder
    from ffcv.loader import Loader, OrderOption

    decoder = RandomResizedCropRGBImageDecoder(
        (size, size), scale=tuple(args.crop_ratio_range))
    return Loader(args.beton, batch_size=args.batch_size,
                  num_workers=args.workers, order=OrderOption.RANDOM,
                  seed=0, os_cache=True,
                  custom_fields=dict(image=_stock_field()),
                  pipelines=dict(image=[decoder], label=[IntDecoder()]))


def build(method, size, interp, args):
    """An iterable of batches and a function counting images per batch."""
    if method in ('mmpretrain', 'mmpretrain_mae'):
        backend = 'pillow' if method == 'mmpretrain_mae' else 'cv2'
        return _mmpretrain(size, interp, backend, args), \
            lambda b: len(b['inputs'])
    if method == 'torchvision':
        import torchvision.transforms as T
        from torchvision.datasets import ImageFolder
        tf = T.Compose([T.RandomResizedCrop(
            size, scale=tuple(args.crop_ratio_range)), T.PILToTensor()])
        ds = ImageFolder(args.image_dir, transform=tf)
        return _torch_loader(ds, args, None), lambda b: len(b[0])
    beton = args.beton_rst if '_rst' in method else args.beton
    if method.startswith('mmeff'):
        options = FAST_OPTIONS if method.endswith('_fast') else {}
        return _essl_loader(beton, size, interp, args,
                            verify=not method.endswith('_noverify'),
                            **options), lambda b: len(b['inputs'])
    if method in ('limit', 'limit_rst'):
        return DecodeLimit(_essl_loader(beton, size, interp, args)), int
    return _stock_ffcv(size, args), lambda b: len(b[0])


class DecodeLimit:
    """The decode-only limit of an :class:`ESSLLoader`.

    Each iteration is one epoch of the loader's own sample order and crop
    boxes (same seed and epoch), decoded batch by batch by the loader's own
    ``decode_into`` (the compiled batch kernel, as many threads as the loader
    has workers) into one reused batch buffer, on the calling thread: no
    producer thread, no queue, no data samples. Yields the sample count.
    """

    def __init__(self, loader):
        self.loader = loader
        out_h, out_w = loader.output_size
        self.out = np.zeros((loader.batch_size, 3, out_h, out_w), np.uint8)
        self.status = np.zeros(loader.batch_size, np.int32)

    def __iter__(self):
        loader = self.loader
        epoch = loader.epoch
        loader.epoch += 1
        order = loader.order.sample_order(epoch)[:len(loader) *
                                                 loader.batch_size]
        order = order.astype(np.int64)
        for start in range(0, len(order), loader.batch_size):
            samples = order[start:start + loader.batch_size]
            n = len(samples)
            loader.decode_into(samples, epoch, self.out[:n], self.status[:n])
            if self.status[:n].any():
                raise RuntimeError('decode failed')
        yield len(order)


def decode_floor(image_dir, limit=1000, repeats=3):
    """Single-thread libjpeg-turbo cost per image (ms), via OpenCV.

    ``full`` is a whole-image decode (what MMPretrain's loader pays);
    ``scale_1/8`` decodes only the DC coefficients, i.e. little more than the
    entropy decoding every JPEG decoder must run over the rows it reads, so it
    bounds from below what any crop decoder can cost per image.
    """
    import glob

    import cv2

    from mmeff.apis.benchmarking import time_calls
    cv2.setNumThreads(1)
    files = sorted(glob.glob(osp.join(image_dir, '*', '*.jpg')))[:limit]
    data = [np.fromfile(f, np.uint8) for f in files]
    flags = dict(full=cv2.IMREAD_COLOR, scale_1_2=cv2.IMREAD_REDUCED_COLOR_2,
                 scale_1_8=cv2.IMREAD_REDUCED_COLOR_8)
    floor = {}
    for name, flag in flags.items():
        def decode_all():
            for buf in data:
                cv2.imdecode(buf, flag)
        best = min(time_calls(decode_all, repeats)) / len(data)
        floor[name] = round(best * 1e3, 3)
    return floor


def _stream_kernel():
    """Compiled loop: cut the crop stream of each record's box, one thread;
    returns the bytes of all streams (a record whose box needs every
    interval is its own stream)."""
    import numba

    from mmeff.data.essl._lib import OK, essl_splice_crop
    from mmeff.data.essl.decoders import random_resized_crop_box, sample_key
    box = numba.njit(nogil=True)(random_resized_crop_box)
    splice = essl_splice_crop

    @numba.njit(nogil=True)
    def cut_all(base, ptrs, sizes, heights, widths, seed, epoch, a0, a1, a2,
                a3, a4, out, where, written):
        total = 0
        for s in range(len(ptrs)):
            top, left, h, w = box(heights[s], widths[s], a0, a1, a2, a3, a4,
                                  sample_key(seed, epoch, s))
            status = splice(base + ptrs[s], sizes[s], top, left, h, w,
                            out.ctypes.data, out.size, where.ctypes.data,
                            written.ctypes.data)
            total += written[0] if status == OK else sizes[s]
        return total

    return cut_all


def crop_stream_cost(beton, args, sizes=(224, 112), repeats=5):
    """CPU core-ms per image to cut the crop streams alone
    (:func:`mmeff.data.essl.crop_stream`'s work, in a compiled loop on one
    thread), for the boxes the loader's RandomResizedCrop draws in epoch 0
    (seed 0) from every record of the restart-interval file, and the
    streams' bytes as a fraction of the records'. A RandomResizedCrop box
    does not depend on the output size, so the sizes share their boxes."""
    from mmeff.apis.benchmarking import time_calls
    from mmeff.data.essl.decoders import RandomResizedCropDecoder
    from mmeff.data.essl.reader import ESSLRecords
    table = ESSLRecords(beton).table()
    mapped = np.memmap(beton, np.uint8, mode='r')
    out = np.empty(int(table['sizes'].max()) + 64, np.uint8)
    where = np.zeros(2, np.int32)
    written = np.zeros(1, np.uint64)
    cut_all = _stream_kernel()
    rows = {}
    for size in sizes:
        decoder = RandomResizedCropDecoder(
            size, crop_ratio_range=tuple(args.crop_ratio_range))
        a0, a1, a2, a3, a4 = decoder.box_args()
        call_args = (mapped.ctypes.data, table['ptrs'], table['sizes'],
                     table['heights'], table['widths'], np.uint64(0),
                     np.uint64(0), np.float64(a0), np.float64(a1),
                     np.float64(a2), np.float64(a3), np.int64(a4), out, where,
                     written)
        stream_bytes = cut_all(*call_args)  # also compiles
        best = min(time_calls(lambda: cut_all(*call_args), repeats))
        rows[str(size)] = dict(
            core_ms_per_image=round(best * 1e3 / len(table['ptrs']), 4),
            stream_bytes_fraction=round(
                int(stream_bytes) / int(table['sizes'].sum()), 4))
    rows['gpu_decode'] = ('not measured: the machine that ran this has no '
                          'GPU (batched nvJPEG through '
                          "torchvision.io.decode_jpeg(list, device='cuda'))")
    return rows


def _profile_epoch(loader, count):
    """Per-stage ms per image over one more epoch of an mmeff method."""
    from mmeff.apis.benchmarking import timed
    from mmeff.data.essl._lib import DecoderProfile
    essl = getattr(loader, 'loader', loader)
    before = dict(essl.stage_seconds)
    with DecoderProfile() as prof:
        n, wall = timed(_epoch_images, loader, count)
    stages = {f'decoder_{k}': v / 1e6 / max(prof.images, 1)
              for k, v in prof.stage_ns.items()}
    if loader is essl:
        stages.update({f'consumer_{k}': (v - before[k]) * 1e3 / n
                       for k, v in essl.stage_seconds.items()})
    stages['wall_per_image'] = wall * 1e3 / n
    stages['core_ms_per_image'] = wall * 1e3 * essl.num_workers / n
    return {k: round(v, 4) for k, v in stages.items()}


def _epoch_images(loader, count):
    """Iterate one epoch of ``loader``; the images it gave."""
    return sum(count(batch) for batch in loader)


def run_one(method, size, interp, args):
    from mmeff.apis.benchmarking import median, time_calls
    with PeakMemory() as mem:
        loader, count = build(method, size, interp, args)
        images = []

        def epoch():
            images.append(_epoch_images(loader, count))

        # One warm-up epoch: worker start-up, JIT compilation.
        seconds = time_calls(epoch, args.timed_epochs, warmup=1)
        n = images[-1]
        rates = [i / s for i, s in zip(images[1:], seconds)]
        profile = None
        if method.startswith(('mmeff', 'limit')):
            profile = _profile_epoch(loader, count)
    # An epoch of 2,000 images lasts about a second: the median of several
    # keeps one descheduled epoch from deciding the ratio.
    return dict(method=method, size=size, interpolation=interp, images=n,
                images_per_s=float(median(rates)),
                epoch_images_per_s=[round(r, 1) for r in rates],
                peak_mem_mb=mem.peak / 2**20, profile_ms=profile)


def _parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-images', type=int, default=2000)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--timed-epochs', type=int, default=5,
                        help='epochs timed after the warm-up one; the median '
                        'images/s is reported')
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[224, 160, 112])
    parser.add_argument('--interpolations', nargs='+',
                        default=['bilinear', 'bicubic'],
                        choices=['bilinear', 'bicubic'])
    parser.add_argument('--methods', nargs='+', default=list(METHODS),
                        choices=METHODS)
    parser.add_argument('--crop-ratio-range', type=float, nargs=2,
                        default=[0.2, 1.0])
    parser.add_argument('--restart-interval', type=int, default=4,
                        help='MCUs per restart interval of the _rst file')
    parser.add_argument('--work-dir', default='work_dirs/loader_throughput')
    parser.add_argument('--jpeg-quality', type=int, default=90)
    parser.add_argument('--out', help='also write the JSON here')
    # Internal: run one (method, size, interpolation) in this process.
    parser.add_argument('--one', nargs=3, help=argparse.SUPPRESS)
    parser.add_argument('--image-dir', help=argparse.SUPPRESS)
    parser.add_argument('--beton', help=argparse.SUPPRESS)
    parser.add_argument('--beton-rst', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def write_files(args):
    """The images, the ESSL file without and with restart markers."""
    from mmeff.apis.benchmarking import loader_benchmark_files
    image_dir, files = loader_benchmark_files(
        args.work_dir, args.num_images, (0, args.restart_interval),
        quality=args.jpeg_quality, workers=args.workers)
    return image_dir, files[0], files[args.restart_interval]


def writer_throughput(image_dir, args, imagenet_images=1_281_167,
                      processes=32):
    """Images/s of one writer process on the benchmark images (check pass,
    resize to 500 px, JPEG with restart markers), and the ImageNet-1K train
    conversion time it implies on ``processes`` processes."""
    import tempfile

    from mmeff.apis.benchmarking import timed
    from mmeff.data.essl import write_essl
    with tempfile.TemporaryDirectory() as tmp:
        _, seconds = timed(
            write_essl, image_dir, osp.join(tmp, 'w.beton'), write_mode='jpg',
            max_resolution=500, jpeg_quality=args.jpeg_quality,
            progress=False, num_workers=1,
            restart_interval=args.restart_interval)
        rate = args.num_images / seconds
    return dict(images_per_s_one_process=round(rate, 1),
                imagenet_train_minutes=round(
                    imagenet_images / (rate * processes) / 60, 1),
                processes=processes)


def _runs(args):
    for size in args.sizes:
        for interp in args.interpolations:
            for method in args.methods:
                if (method in BILINEAR_ONLY and interp != 'bilinear') or \
                        (method in BICUBIC_ONLY and interp != 'bicubic'):
                    continue
                yield method, size, interp


def _ratios(table, args):
    ratios = {}
    for _, size, interp in _runs(args):
        def ips(m):
            return table.get(f'{m}@{size}/{interp}', {}).get('images_per_s')
        for num, den in RATIOS:
            if ips(num) and ips(den):
                ratios[f'{num}/{den}@{size}/{interp}'] = round(
                    ips(num) / ips(den), 3)
    return ratios


def main():
    args = _parse()
    if args.one:
        method, size, interp = args.one
        print(json.dumps(run_one(method, int(size), interp, args)))
        return
    image_dir, beton, beton_rst = write_files(args)
    table = {}
    for method, size, interp in _runs(args):
        cmd = [sys.executable, __file__, '--one', method, str(size), interp,
               '--image-dir', image_dir, '--beton', beton,
               '--beton-rst', beton_rst, '--workers', str(args.workers),
               '--batch-size', str(args.batch_size),
               '--timed-epochs', str(args.timed_epochs),
               '--crop-ratio-range', *map(str, args.crop_ratio_range)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f'{method}@{size}/{interp} failed:\n{out.stderr[-3000:]}')
        res = json.loads(out.stdout.strip().splitlines()[-1])
        print(f'{method:>14} @{size}/{interp}: {res["images_per_s"]:8.1f} '
              f'img/s, peak {res["peak_mem_mb"]:7.1f} MB', file=sys.stderr)
        table[f'{method}@{size}/{interp}'] = dict(
            images_per_s=round(res['images_per_s'], 1),
            epoch_images_per_s=res['epoch_images_per_s'],
            peak_mem_mb=round(res['peak_mem_mb'], 1),
            **({'profile_ms': res['profile_ms']} if res['profile_ms'] else {}))
    from mmeff.apis.benchmarking import essl_record_bytes
    sizes = {k: essl_record_bytes(v) for k, v in
             (('plain', beton), ('restart_intervals', beton_rst))}
    report = dict(
        setup=dict(num_images=args.num_images, workers=args.workers,
                   batch_size=args.batch_size,
                   timed_epochs=args.timed_epochs,
                   crop_ratio_range=args.crop_ratio_range,
                   restart_interval=args.restart_interval,
                   jpeg_quality=args.jpeg_quality, cpu_count=os.cpu_count()),
        results=table, ratios=_ratios(table, args),
        record_bytes=dict(sizes, ratio=round(
            sizes['restart_intervals'] / sizes['plain'], 4)),
        decode_ms_per_image_one_thread=decode_floor(image_dir),
        crop_streams=crop_stream_cost(beton_rst, args),
        writer=writer_throughput(image_dir, args))
    from mmeff.apis.benchmarking import print_report
    print_report(report, args.out, indent=1)


if __name__ == '__main__':
    main()
