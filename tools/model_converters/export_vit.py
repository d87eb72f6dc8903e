#!/usr/bin/env python
"""Export the ViT encoder of an mmeff/MMPretrain pretraining checkpoint.

  python tools/model_converters/export_vit.py CKPT OUT --format mmpretrain
  python tools/model_converters/export_vit.py CKPT OUT --format timm

``mmpretrain`` writes ``{'state_dict': {'backbone.*': ...}}`` for
``init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')``;
``timm`` writes a plain state dict and ``OUT.json`` with the
``timm.create_model`` arguments. Key coverage is printed; nothing is written
unless every key of the target model is present with the right shape.
"""
import argparse
import json
import sys

import torch


def main(argv=None):
    import mmeff  # noqa: F401  safe loading of MMEngine checkpoints
    from mmengine.config import Config
    from mmeff.engine.checkpoint import CheckpointError, load_local_checkpoint
    from mmeff.models.export import (ExportError, backbone_state, timm_kwargs,
                                     to_mmpretrain, to_timm, vit_arch)

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('checkpoint')
    parser.add_argument('out')
    parser.add_argument('--format', choices=['mmpretrain', 'timm'],
                        required=True)
    parser.add_argument('--num-heads', type=int, default=None,
                        help='attention heads; read from the checkpoint\'s '
                        'config when omitted')
    args = parser.parse_args(argv)
    try:
        ckpt = load_local_checkpoint(args.checkpoint, map_location='cpu')
        backbone = backbone_state(ckpt)
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
    print(f'{args.format}: {coverage.summary()}')
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
