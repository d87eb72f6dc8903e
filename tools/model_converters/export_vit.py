#!/usr/bin/env python
"""Export the ViT encoder of an mmeff/MMPretrain pretraining checkpoint.

  python tools/model_converters/export_vit.py CKPT OUT --format mmpretrain
  python tools/model_converters/export_vit.py CKPT OUT --format timm
  python tools/model_converters/export_vit.py CKPT OUT --target-config CONFIG

``mmpretrain`` writes ``{'state_dict': {'backbone.*': ...}}`` for
``init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')``;
``timm`` writes a plain state dict and ``OUT.json`` with the
``timm.create_model`` arguments. Key coverage is printed; nothing is written
unless every key of the target model is present with the right shape.

``--target-config`` exports for the backbone of a downstream config
(configs/downstream/: fine-tuning, MMDetection, MMSegmentation, linear
probe): its ``model.backbone`` is built with MMPretrain's registry,
``pos_embed`` is resampled (bicubic) to the backbone's patch grid, keys are
checked against it, and the written file is loaded back through
``init_cfg=dict(type='Pretrained', prefix='backbone.')`` and compared
tensor by tensor before the command succeeds. The output is in MMPretrain
format. Errors are one line ``export_vit: error: ...`` with exit code 2.
"""
import argparse
import json
import os
import sys

import torch


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('checkpoint')
    parser.add_argument('out')
    parser.add_argument('--format', choices=['mmpretrain', 'timm'],
                        default=None, help='required unless --target-config')
    parser.add_argument('--target-config', default=None,
                        help='export for the backbone of this config '
                        '(MMPretrain format)')
    parser.add_argument('--num-heads', type=int, default=None,
                        help='attention heads; read from the checkpoint\'s '
                        'config when omitted (not used with --target-config)')
    args = parser.parse_args(argv)
    if args.target_config is None and args.format is None:
        parser.error('give --format or --target-config')
    if args.target_config is not None and args.format == 'timm':
        parser.error('--target-config writes MMPretrain weights; drop '
                     '--format timm')
    return args


def export_for_config(backbone, config, out):
    """Write ``out`` for ``config``'s backbone; return the coverage."""
    from mmeff.models.export import (build_backbone, roundtrip_check,
                                     target_backbone_cfg, to_target)
    backbone_cfg = target_backbone_cfg(config)
    model = build_backbone(backbone_cfg)
    state, coverage = to_target(backbone, model)
    torch.save({'state_dict': state,
                'meta': {'target_config': os.path.abspath(config),
                         'coverage': coverage.summary()}}, out)
    try:
        checked = roundtrip_check(backbone_cfg, out)
    except Exception:
        os.remove(out)  # never leave a file that does not load back intact
        raise
    return coverage, checked


def main(argv=None):
    import mmeff  # noqa: F401  safe loading of MMEngine checkpoints
    from mmengine.config import Config
    from mmeff.engine.checkpoint import CheckpointError, load_local_checkpoint
    from mmeff.models.export import (ExportError, backbone_state, timm_kwargs,
                                     to_mmpretrain, to_timm, vit_arch)

    args = parse_args(argv)
    try:
        ckpt = load_local_checkpoint(args.checkpoint, map_location='cpu')
        backbone = backbone_state(ckpt)
        if args.target_config is not None:
            coverage, checked = export_for_config(backbone,
                                                  args.target_config,
                                                  args.out)
            print(f'target {args.target_config}: {coverage.summary()}')
            print(f'round trip through init_cfg Pretrained: {checked} '
                  'tensors identical')
            print(f'wrote {args.out}')
            return 0
        heads = args.num_heads
        if heads is None:
            cfg_text = ckpt.get('meta', {}).get('cfg')
            if not cfg_text:
                raise ExportError('the checkpoint holds no config; pass '
                                  '--num-heads')
            arch = Config.fromstring(cfg_text, '.py').model.backbone.arch
            if isinstance(arch, str):
                from mmpretrain.models import VisionTransformer
                arch = VisionTransformer.arch_zoo[arch]
            heads = arch['num_heads']
        arch = vit_arch(backbone, heads)
        if args.format == 'mmpretrain':
            state, coverage = to_mmpretrain(backbone, arch)
            torch.save({'state_dict': state, 'meta': {'arch': arch}}, args.out)
        else:
            state, coverage = to_timm(backbone, arch)
            torch.save(state, args.out)
            with open(args.out + '.json', 'w') as f:
                json.dump(timm_kwargs(arch), f, indent=2)
    except (ExportError, CheckpointError) as err:
        print(f'export_vit: error: {args.checkpoint}: {err}', file=sys.stderr)
        return 2
    except OSError as err:  # e.g. the output folder does not exist
        print(f'export_vit: error: {err}', file=sys.stderr)
        return 2
    print(f'{args.format}: {coverage.summary()}')
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
