"""Loader throughput: MMPretrain vs torchvision vs stock FFCV vs mmeff ESSL.

One run, the same images, the same worker count and batch size, outputs 224,
160 and 112 (RandomResizedCrop, area fraction ``--crop-ratio-range``):

  (a) mmpretrain: CustomDataset + LoadImageFromFile + RandomResizedCrop +
      PackInputs in a torch DataLoader (default_collate);
  (b) torchvision: ImageFolder + RandomResizedCrop + PILToTensor in a torch
      DataLoader;
  (c) ffcv: stock ``RandomResizedCropRGBImageDecoder`` on the ESSL file;
  (d) mmeff: ``ESSLLoader`` with the crop decoder (MMPretrain batches);
  (d_raw) the mmeff decoder in a bare FFCV Loader, the like-for-like
      comparison with (c).

Each (method, size) runs in its own process: one warm-up epoch (worker start,
JIT compilation) then `--timed-epochs` timed ones (median images/s). Peak memory is the largest sum of PSS
(proportional set size, so pages shared between DataLoader workers count
once) over the process tree, sampled every 0.1 s.

Test images: ``--num-images`` JPEGs (quality 90) of 500x375 or 375x500, cut
at random positions and scales from the real photographs shipped in
scikit-image (``skimage.data``) -- no download needed. Prints JSON, with
the single-thread cost of a full and of a 1/8-scale JPEG decode per image as
a reference: the second is about the entropy-decoding floor of any decoder.

    python tools/benchmarks/loader_throughput.py --num-images 2000 --workers 2
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time

import numpy as np

SOURCES = ('astronaut', 'coffee', 'chelsea', 'rocket', 'hubble_deep_field',
           'immunohistochemistry', 'retina', 'camera', 'grass', 'gravel',
           'brick', 'moon')
METHODS = ('mmpretrain', 'torchvision', 'ffcv', 'mmeff', 'mmeff_raw')


def make_images(root, num_images, seed=0, quality=90):
    """Write ``num_images`` ~500x375 JPEGs in one class folder per source."""
    import cv2
    import skimage.data
    from PIL import Image
    stamp = osp.join(root, f'.done-{num_images}-{seed}-{quality}')
    if osp.isfile(stamp):
        return root
    rng = np.random.default_rng(seed)
    photos = []
    for name in SOURCES:
        img = getattr(skimage.data, name)()
        if img.ndim == 2:
            img = np.stack([img] * 3, -1)
        photos.append(np.ascontiguousarray(img[..., :3]))
    for name in SOURCES:
        os.makedirs(osp.join(root, name), exist_ok=True)
    for i in range(num_images):
        c = i % len(SOURCES)
        src = photos[c]
        h, w = src.shape[:2]
        out_w, out_h = (500, 375) if rng.random() < 0.75 else (375, 500)
        # A box of the output's aspect ratio, 30-100% of the largest one.
        side = rng.uniform(0.3, 1.0) * min(w / out_w, h / out_h)
        bw, bh = max(8, int(out_w * side)), max(8, int(out_h * side))
        x, y = rng.integers(0, w - bw + 1), rng.integers(0, h - bh + 1)
        crop = src[y:y + bh, x:x + bw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        interp = cv2.INTER_AREA if bw >= out_w else cv2.INTER_CUBIC
        crop = cv2.resize(np.ascontiguousarray(crop), (out_w, out_h),
                          interpolation=interp)
        Image.fromarray(crop).save(
            osp.join(root, SOURCES[c], f'{i:06d}.jpg'), quality=quality)
    open(stamp, 'w').close()
    return root


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


def build(method, size, args):
    """An iterable of batches and a function counting images per batch."""
    lo, hi = args.crop_ratio_range
    if method == 'mmpretrain':
        from mmengine.dataset import default_collate
        from mmpretrain.datasets import CustomDataset
        from mmpretrain.utils import register_all_modules
        register_all_modules()
        pipeline = [dict(type='LoadImageFromFile'),
                    dict(type='RandomResizedCrop', scale=size,
                         crop_ratio_range=(lo, hi)),
                    dict(type='PackInputs')]
        ds = CustomDataset(data_root=args.image_dir, pipeline=pipeline)
        return _torch_loader(ds, args, default_collate), \
            lambda b: len(b['inputs'])
    if method == 'torchvision':
        import torchvision.transforms as T
        from torchvision.datasets import ImageFolder
        tf = T.Compose([T.RandomResizedCrop(size, scale=(lo, hi)),
                        T.PILToTensor()])
        ds = ImageFolder(args.image_dir, transform=tf)
        return _torch_loader(ds, args, None), lambda b: len(b[0])
    if method == 'mmeff':
        from mmeff.data.essl import ESSLLoader
        loader = ESSLLoader(args.beton, args.batch_size, dict(
            type='RandomResizedCrop', scale=size, crop_ratio_range=(lo, hi)),
            num_workers=args.workers, shuffle=True, drop_last=False)
        return loader, lambda b: len(b['inputs'])
    from ffcv.fields import RGBImageField
    from ffcv.fields.basics import IntDecoder
    from ffcv.loader import Loader, OrderOption

    import mmeff.data.essl.field  # noqa: F401  makes the file readable
    if method == 'ffcv':
        from ffcv.fields.rgb_image import RandomResizedCropRGBImageDecoder
        decoder = RandomResizedCropRGBImageDecoder((size, size),
                                                   scale=(lo, hi))
        # Both read the same ESSL file: its JPEG/raw records have FFCV's
        # layout, so the stock field class decodes them.
        custom = dict(image=RGBImageField)
    else:
        from mmeff.data.essl.decoders import RandomResizedCropDecoder
        decoder = RandomResizedCropDecoder(size, crop_ratio_range=(lo, hi))
        custom = {}
    loader = Loader(args.beton, batch_size=args.batch_size,
                    num_workers=args.workers, order=OrderOption.RANDOM,
                    seed=0, os_cache=True, custom_fields=custom,
                    pipelines=dict(image=[decoder], label=[IntDecoder()]))
    return loader, lambda b: len(b[0])


def decode_floor(image_dir, limit=1000, repeats=3):
    """Single-thread libjpeg-turbo cost per image (ms), via OpenCV.

    ``full`` is a whole-image decode (what MMPretrain's loader pays);
    ``scale_1/8`` decodes only the DC coefficients, i.e. little more than the
    entropy decoding every JPEG decoder must run over the rows it reads, so it
    bounds from below what any crop decoder can cost per image.
    """
    import glob

    import cv2
    cv2.setNumThreads(1)
    files = sorted(glob.glob(osp.join(image_dir, '*', '*.jpg')))[:limit]
    data = [np.fromfile(f, np.uint8) for f in files]
    flags = dict(full=cv2.IMREAD_COLOR, scale_1_2=cv2.IMREAD_REDUCED_COLOR_2,
                 scale_1_8=cv2.IMREAD_REDUCED_COLOR_8)
    floor = {}
    for name, flag in flags.items():
        best = float('inf')
        for _ in range(repeats):
            t0 = time.perf_counter()
            for buf in data:
                cv2.imdecode(buf, flag)
            best = min(best, (time.perf_counter() - t0) / len(data))
        floor[name] = round(best * 1e3, 3)
    return floor


def run_one(method, size, args):
    with PeakMemory() as mem:
        loader, count = build(method, size, args)
        for _ in loader:  # warm-up: worker start-up, JIT compilation
            pass
        rates = []
        for _ in range(args.timed_epochs):
            n, t0 = 0, time.perf_counter()
            for batch in loader:
                n += count(batch)
            rates.append(n / (time.perf_counter() - t0))
    # An epoch of 2,000 images lasts about a second: the median of several
    # keeps one descheduled epoch from deciding the ratio.
    return dict(method=method, size=size, images=n,
                images_per_s=float(np.median(rates)),
                epoch_images_per_s=[round(r, 1) for r in rates],
                peak_mem_mb=mem.peak / 2**20)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-images', type=int, default=2000)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--timed-epochs', type=int, default=5,
                        help='epochs timed after the warm-up one; the median '
                        'images/s is reported')
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[224, 160, 112])
    parser.add_argument('--methods', nargs='+', default=list(METHODS),
                        choices=METHODS)
    parser.add_argument('--crop-ratio-range', type=float, nargs=2,
                        default=[0.2, 1.0])
    parser.add_argument('--work-dir', default='work_dirs/loader_throughput')
    parser.add_argument('--jpeg-quality', type=int, default=90)
    parser.add_argument('--out', help='also write the JSON here')
    # Internal: run one (method, size) in this process.
    parser.add_argument('--one', nargs=2, metavar=('METHOD', 'SIZE'),
                        help=argparse.SUPPRESS)
    parser.add_argument('--image-dir', help=argparse.SUPPRESS)
    parser.add_argument('--beton', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args)))
        return

    image_dir = osp.join(args.work_dir, f'images-{args.num_images}')
    make_images(image_dir, args.num_images, quality=args.jpeg_quality)
    beton = osp.join(args.work_dir, f'essl-{args.num_images}.beton')
    if not osp.isfile(beton + '.meta.json'):
        from mmeff.data.essl import write_essl
        write_essl(image_dir, beton, write_mode='jpg', max_resolution=500,
                   jpeg_quality=args.jpeg_quality, num_workers=args.workers,
                   progress=False)
    results = []
    for size in args.sizes:
        for method in args.methods:
            cmd = [sys.executable, __file__, '--one', method, str(size),
                   '--image-dir', image_dir, '--beton', beton,
                   '--workers', str(args.workers),
                   '--batch-size', str(args.batch_size),
                   '--timed-epochs', str(args.timed_epochs),
                   '--crop-ratio-range', *map(str, args.crop_ratio_range)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f'{method}@{size} failed:\n{out.stderr[-3000:]}')
            res = json.loads(out.stdout.strip().splitlines()[-1])
            print(f'{method:>12} @{size}: {res["images_per_s"]:8.1f} img/s, '
                  f'peak {res["peak_mem_mb"]:7.1f} MB', file=sys.stderr)
            results.append(res)
    table = {f'{r["method"]}@{r["size"]}': dict(
        images_per_s=round(r['images_per_s'], 1),
        peak_mem_mb=round(r['peak_mem_mb'], 1)) for r in results}
    ratios = {}
    for size in args.sizes:
        def ips(m):
            return table.get(f'{m}@{size}', {}).get('images_per_s')
        for num, den in (('mmeff', 'ffcv'), ('mmeff_raw', 'ffcv'),
                         ('mmeff', 'mmpretrain'), ('mmeff', 'torchvision'),
                         ('ffcv', 'mmpretrain')):
            if ips(num) and ips(den):
                ratios[f'{num}/{den}@{size}'] = round(ips(num) / ips(den), 3)
    report = dict(
        setup=dict(num_images=args.num_images, workers=args.workers,
                   batch_size=args.batch_size,
                   timed_epochs=args.timed_epochs,
                   crop_ratio_range=args.crop_ratio_range,
                   jpeg_quality=args.jpeg_quality, cpu_count=os.cpu_count()),
        results=table, ratios=ratios,
        decode_ms_per_image_one_thread=decode_floor(image_dir))
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
