#!/usr/bin/env python
"""Per-iteration cost of MAE vs EMAE from the real configs, side by side.

Builds the models of two configs (default: MMPretrain's MAE ViT-B/16 800e and
configs/emae_vit-b_800e.py), trains a few iterations on random images of the
given resolutions with the config's optimizer wrapper (AMP on CUDA; on CPU
the tools' float32 fallback), and prints JSON: images/s, MAE-task parts/s,
peak memory, and EMAE/MAE ratios, for each ``part_chunks`` value asked for.

  python tools/benchmarks/emae_cost.py --batch 64 --sizes 160 192 224
  python tools/benchmarks/emae_cost.py --tiny   # CPU smoke run, small ViT
"""
import argparse
import sys

import torch


def build(config, tiny, part_chunks=None, var_res=False):
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS

    from mmeff.engine.config import drop_amp_without_accelerator, load_config
    cfg = load_config(config)
    if tiny:
        cfg.model.backbone.arch = dict(embed_dims=64, num_layers=2,
                                       num_heads=2, feedforward_channels=128)
        cfg.model.backbone.img_size = 64
        cfg.model.neck.update(num_patches=16, embed_dim=64,
                              decoder_embed_dim=32, decoder_depth=1,
                              decoder_num_heads=2)
    if part_chunks is not None:
        cfg.model.part_chunks = part_chunks
    if var_res:  # plain MAE with mmeff's grid-following position embeddings
        cfg.model.backbone.type = 'VarResMAEViT'
        cfg.model.neck.type = 'VarResMAEPretrainDecoder'
    drop_amp_without_accelerator(cfg)
    model = MODELS.build(cfg.model)
    model.init_weights()
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model.to(device)
    return model, build_optim_wrapper(model, cfg.optim_wrapper), device


def measure(model, optim_wrapper, device, batch, size, iters, warmup=2):
    from mmeff.apis.benchmarking import time_block
    images = torch.randn(batch, 3, size, size, device=device)
    sync = torch.cuda.synchronize if device == 'cuda' else None
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()

    def step():
        with optim_wrapper.optim_context(model):
            losses = model.loss(images, None)
        optim_wrapper.update_params(sum(losses.values()))

    seconds = time_block(step, iters, warmup, sync)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == 'cuda' \
        else None
    parts = getattr(model, 'num_parts', 1)
    return dict(seconds_per_iter=round(seconds, 4),
                images_per_second=round(batch / seconds, 1),
                parts_per_second=round(batch * parts / seconds, 1),
                peak_memory_gib=None if peak is None else round(peak, 2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--mae', default='mmpretrain::mae/'
                        'mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py')
    parser.add_argument('--emae', default='configs/emae_vit-b_800e.py')
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--sizes', type=int, nargs='+', default=[224])
    parser.add_argument('--part-chunks', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--out', help='also write the JSON here')
    parser.add_argument('--tiny', action='store_true',
                        help='2-layer 64-dim ViT on 64px inputs (CPU smoke)')
    args = parser.parse_args(argv)
    from mmengine.logging import MMLogger
    from mmpretrain.utils import register_all_modules

    import mmeff  # noqa: F401
    MMLogger.get_instance('emae_cost', log_level='WARNING')  # keep stdout JSON
    register_all_modules()
    if args.tiny:
        args.sizes = [64]
    config_path = args.mae
    if config_path.startswith('mmpretrain::'):
        import os.path as osp

        from mmengine.config.utils import _get_package_and_cfg_path
        from mmengine.utils import get_installed_path
        pkg, rel = _get_package_and_cfg_path(config_path)
        config_path = osp.join(get_installed_path(pkg), '.mim', 'configs', rel)

    results = {}
    # MAE gets mmeff's variable-resolution encoder/decoder (identical to
    # upstream at 224) so that every size runs for both.
    runs = [('mae', config_path, None, True)] + [
        (f'emae_chunks{c}', args.emae, c, False) for c in args.part_chunks]
    for name, config, chunks, var_res in runs:
        model, optim_wrapper, device = build(config, args.tiny, chunks,
                                             var_res)
        for size in args.sizes:
            results[f'{name}@{size}'] = measure(model, optim_wrapper, device,
                                                args.batch, size, args.iters)
        del model, optim_wrapper
        if device == 'cuda':
            torch.cuda.empty_cache()
    ratios = {}
    for key, value in results.items():
        if key.startswith('emae'):
            base = results['mae@' + key.split('@')[1]]
            ratios[key] = dict(
                seconds_per_iter=round(value['seconds_per_iter'] /
                                       base['seconds_per_iter'], 3),
                parts_per_second=round(value['parts_per_second'] /
                                       base['parts_per_second'], 3),
                peak_memory=None if base['peak_memory_gib'] is None else round(
                    value['peak_memory_gib'] / base['peak_memory_gib'], 3))
    from mmeff.apis.benchmarking import print_report
    print_report(dict(batch=args.batch, results=results,
                      ratios_to_mae=ratios), args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
