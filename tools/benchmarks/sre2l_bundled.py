#!/usr/bin/env python
"""SRe2L on the bundled Fashion-MNIST, CPU: squeeze, recover, relabel.

1. squeezes a teacher (1/4-width CIFAR ResNet-18) on the full data, all
   60,000 training images, through a real MMEngine Runner and scores it on
   1,000 held-out test images;
2. recovers IPC=10 images per class (``tools/condense/recover.py`` in a
   subprocess, so its peak resident memory is recover's own) with the
   released CIFAR recipe (1,000 iterations, lr 0.25, r_bn 0.01, roll 0-4 px,
   no crop) and draws them as a PNG grid (one row per class);
3. relabels them for every student epoch (crops + CutMix per student batch,
   fp16 logits per mixed crop);
4. trains the same student for the same epochs on the recovered images with
   soft labels (KL, T=20, no T^2), and on random real subsets of 10 images
   per class
   (one per ``--real-seeds`` entry) with hard labels; all are scored on the
   held-out images. The condensed set wins if it beats every real subset.

Prints (and writes to ``<out>/metrics.json``) one JSON object. Defaults:
teacher 3 epochs, recover 1,000 iterations on one batch of 100 images, 600
student epochs, three real subsets; about 40 minutes on two CPU cores with
one torch thread (the paper: full-width networks, 300+ student epochs).

  python tools/benchmarks/sre2l_bundled.py --out work_dirs/sre2l_fashion-mnist
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SQUEEZE = 'configs/sre2l/resnet18-cifar-w16_1xb32-squeeze-3e_fashion-mnist.py'
STUDENT_SOFT = ('configs/sre2l/'
                'resnet18-cifar-w16_1xb20-student-relabel-600e_fashion-mnist-ipc10.py')
STUDENT_REAL = ('configs/sre2l/'
                'resnet18-cifar-w16_1xb20-student-real-600e_fashion-mnist-ipc10.py')


def train_and_score(config, work_dir, options):
    """Train ``config`` through a Runner; return held-out top-1 (%)."""
    from mmengine.logging import MMLogger  # noqa: F401

    from mmeff.apis.benchmarking import timed
    from mmeff.apis.train import build_runner
    from mmeff.engine.config import load_config
    cfg = load_config(osp.join(REPO, config), options)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    # Scored once, after the last epoch, by the config's own evaluator.
    cfg.train_cfg.val_interval = cfg.train_cfg.max_epochs
    runner = build_runner(cfg)
    _, seconds = timed(runner.train)
    top1 = runner.message_hub.get_scalar('val/accuracy/top1').current()
    return float(top1), seconds, runner


def score_checkpoint(config, ckpt, work_dir, options):
    """Held-out top-1 (%) of a trained checkpoint of ``config``."""
    from mmeff.apis.train import build_runner
    from mmeff.engine.config import load_config
    cfg = load_config(osp.join(REPO, config), options)
    cfg.work_dir, cfg.launcher, cfg.load_from = work_dir, 'none', ckpt
    return float(build_runner(cfg).val()['accuracy/top1'])


def real_subset(src, dst, per_class, seed):
    """Copy ``per_class`` random images of each class folder to ``dst``."""
    rng = np.random.default_rng(seed)
    if osp.isdir(dst):
        shutil.rmtree(dst)
    for name in sorted(os.listdir(src)):
        files = sorted(os.listdir(osp.join(src, name)))
        os.makedirs(osp.join(dst, name))
        for f in rng.choice(files, per_class, replace=False):
            shutil.copy(osp.join(src, name, f), osp.join(dst, name, f))


def image_grid(folder, path, ipc, zoom=3):
    """One row per class, ``ipc`` images per row, each zoomed ``zoom`` x."""
    from PIL import Image
    classes = sorted(os.listdir(folder))
    rows = []
    for name in classes:
        tiles = [np.asarray(Image.open(osp.join(folder, name,
                                                f'ipc_{i:05d}.png')))
                 for i in range(ipc)]
        rows.append(np.concatenate(tiles, 1))
    grid = np.concatenate(rows, 0)
    Image.fromarray(grid).resize((grid.shape[1] * zoom, grid.shape[0] * zoom),
                                 Image.NEAREST).save(path)
    return classes


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default='work_dirs/sre2l_fashion-mnist')
    p.add_argument('--data-root', default='data/fashion-mnist-full')
    p.add_argument('--train-per-class', type=int, default=6000,
                   help='training images per class the teacher is squeezed '
                   'on and the real subsets are drawn from (6,000: all)')
    p.add_argument('--teacher-epochs', type=int, default=3)
    p.add_argument('--teacher-checkpoint',
                   help='reuse a squeezed teacher (scored, not retrained)')
    p.add_argument('--ipc', type=int, default=10)
    p.add_argument('--recover-preset', default='cifar',
                   help='released recover recipe (cifar: the 32-px one)')
    p.add_argument('--iterations', type=int,
                   help='recover steps per batch (default: the preset\'s)')
    p.add_argument('--recover-batch-size', type=int, default=100)
    p.add_argument('--color', dest='grayscale', action='store_false',
                   help='synthesise independent channels (default: equal '
                   'channels, as the grayscale teacher data has)')
    p.add_argument('--student-epochs', type=int, default=600)
    p.add_argument('--real-seeds', type=int, nargs='+', default=[0, 1, 2],
                   help='one random real IPC subset per seed')
    p.add_argument('--relabel-min-scale', type=float, default=0.08,
                   help='smallest crop area fraction of the stored student '
                   'crops (paper: 0.08)')
    p.add_argument('--no-cutmix', action='store_true',
                   help='relabel plain crops (mmeff\'s earlier default)')
    p.add_argument('--t-squared', action='store_true',
                   help='student KL times T^2 (mmeff\'s earlier default)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=1,
                   help='torch CPU threads; on a shared, oversubscribed '
                   'host one thread avoids OpenMP spin-waiting')
    return p.parse_args(argv)


def squeeze(args, out, data_root):
    """Train (or score a given) teacher; returns its result entry."""
    teacher_dir = osp.join(out, 'teacher')
    options = {
        'data_root': data_root,
        'train_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.data_root': data_root,
        'train_cfg.max_epochs': args.teacher_epochs,
        'param_scheduler.T_max': args.teacher_epochs,
        'default_hooks.checkpoint.interval': args.teacher_epochs}
    if args.teacher_checkpoint:
        ckpt = osp.abspath(args.teacher_checkpoint)
        top1, secs = score_checkpoint(SQUEEZE, ckpt, teacher_dir,
                                      options), None
    else:
        top1, secs, _ = train_and_score(SQUEEZE, teacher_dir, options)
        secs = round(secs, 1)
        ckpt = osp.join(teacher_dir, f'epoch_{args.teacher_epochs}.pth')
    return dict(config=SQUEEZE, checkpoint=ckpt, epochs=args.teacher_epochs,
                top1=top1, train_seconds=secs)


def recover_images(args, out, data_root, ckpt):
    """Recover into a fresh folder (the measured run makes every image)."""
    recovered = osp.join(out, 'recovered')
    shutil.rmtree(recovered, ignore_errors=True)
    cmd = [sys.executable, osp.join(REPO, 'tools/condense/recover.py'),
           osp.join(REPO, SQUEEZE), ckpt, recovered, '--ipc', str(args.ipc),
           '--preset', args.recover_preset, *(
               ['--iterations', str(args.iterations)] if args.iterations
               else []), '--classes-from',
           osp.join(data_root, 'train'), '--batch-size',
           str(args.recover_batch_size), '--seed', str(args.seed),
           '--no-progress', *(['--grayscale'] if args.grayscale else [])]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                          env=env)
    if proc.returncode:
        sys.exit(f'recover failed:\n{proc.stderr[-3000:]}')
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    grid = osp.join(out, 'recovered_grid.png')
    image_grid(osp.join(recovered, 'train'), grid, args.ipc)
    return recovered, dict(
        ipc=args.ipc, preset=rec['preset'], iterations=rec['iterations'],
        grayscale=args.grayscale,
        batch_size=args.recover_batch_size, images=rec['written'],
        seconds=round(rec['seconds'], 1),
        image_iterations_per_second=round(
            rec['image_iterations_per_second'], 1),
        peak_rss_mib=round(rec['peak_rss_mib'], 1), grid_png=grid)


def relabel_images(args, out, recovered, ckpt):
    """Relabel every student epoch; CutMix batches of the student's size."""
    from mmeff.condense import relabel
    from mmeff.engine.config import load_config
    relabel_dir = osp.join(out, 'relabel')
    shutil.rmtree(relabel_dir, ignore_errors=True)
    student_batch = load_config(osp.join(REPO, STUDENT_SOFT)).get(
        'train_dataloader')['batch_size']
    rel = relabel(osp.join(REPO, SQUEEZE), ckpt, recovered, relabel_dir,
                  args.student_epochs, seed=args.seed,
                  scale=(args.relabel_min_scale, 1.),
                  mix=None if args.no_cutmix else 'cutmix',
                  cutmix_batch_size=student_batch, progress=False)
    return relabel_dir, dict(
        epochs=rel['epochs'], min_crop_scale=args.relabel_min_scale,
        mix=rel['mix'], cutmix_batch_size=student_batch,
        bytes_per_epoch=rel['bytes_per_epoch'],
        file_bytes_per_epoch=rel['file_bytes'],
        seconds=round(rel['seconds'], 1))


def students(args, out, data_root, recovered, relabel_dir):
    """Same network / optimizer / epochs / batch on condensed and real."""
    top1, secs, _ = train_and_score(
        STUDENT_SOFT, osp.join(out, 'student_soft'), {
            'condensed_root': recovered, 'relabel_dir': relabel_dir,
            'train_dataloader.dataset.data_root': recovered,
            'train_dataloader.dataset.relabel_dir': relabel_dir,
            'train_dataloader.dataset.seed': args.seed,
            'val_dataloader.dataset.data_root': data_root,
            'model.head.loss.t_squared': args.t_squared,
            'train_cfg.max_epochs': args.student_epochs,
            'param_scheduler.T_max': args.student_epochs})
    result = dict(recovered_soft_labels=dict(
        top1=top1, kl_t_squared=args.t_squared, train_seconds=round(secs, 1)))
    real = []
    for seed in args.real_seeds:
        subset = osp.join(out, f'real-ipc{args.ipc}-seed{seed}')
        real_subset(osp.join(data_root, 'train'), osp.join(subset, 'train'),
                    args.ipc, seed)
        top1, secs, _ = train_and_score(
            STUDENT_REAL, osp.join(out, f'student_real_seed{seed}'), {
                'train_dataloader.dataset.data_root': subset,
                'val_dataloader.dataset.data_root': data_root,
                'train_cfg.max_epochs': args.student_epochs,
                'param_scheduler.T_max': args.student_epochs})
        real.append(dict(subset_seed=seed, top1=top1,
                         train_seconds=round(secs, 1)))
    tops = [r['top1'] for r in real]
    result['real_subset_hard_labels'] = dict(
        runs=real, mean_top1=round(float(np.mean(tops)), 2),
        max_top1=max(tops), min_top1=min(tops))
    return dict(epochs=args.student_epochs, ipc=args.ipc, **result)


def main(argv=None):
    args = parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)

    import mmeff  # noqa: F401
    from mmeff.data import prepare_fashion_mnist

    out = osp.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    data_root = osp.abspath(args.data_root)
    prepare_fashion_mnist(data_root, args.train_per_class, 100)
    result = dict(data=dict(root=data_root,
                            train_images=10 * args.train_per_class,
                            val_images=1000, image_size=32, classes=10),
                  torch_threads=args.threads)
    result['teacher'] = squeeze(args, out, data_root)
    ckpt = result['teacher']['checkpoint']
    recovered, result['recover'] = recover_images(args, out, data_root, ckpt)
    relabel_dir, result['relabel'] = relabel_images(args, out, recovered,
                                                    ckpt)
    result['students'] = students(args, out, data_root, recovered,
                                  relabel_dir)
    real = result['students']['real_subset_hard_labels']
    result['condensed_beats_real'] = (
        result['students']['recovered_soft_labels']['top1'] > real['max_top1'])
    from mmeff.apis.benchmarking import print_report
    print_report(result, osp.join(out, 'metrics.json'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
