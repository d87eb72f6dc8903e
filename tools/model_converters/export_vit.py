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

OUT's folder is created when missing. An existing OUT (or, for ``timm``,
OUT.json) is refused unless
``--overwrite``; outputs are written to a temporary file and renamed when
complete, so a failed or killed export leaves the old file untouched.
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
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing OUT')
    args = parser.parse_args(argv)
    if args.target_config is None and args.format is None:
        parser.error('give --format or --target-config')
    if args.target_config is not None and args.format == 'timm':
        parser.error('--target-config writes MMPretrain weights; drop '
                     '--format timm')
    return args


def export_for_config(backbone, config, out):
    """Write ``out`` for ``config``'s backbone; return the coverage."""
    from mmeff.apis.export import (
        build_backbone,
        roundtrip_check,
        target_backbone_cfg,
        to_target,
    )
    from mmeff.engine.outputs import atomic_output
    backbone_cfg = target_backbone_cfg(config)
    model = build_backbone(backbone_cfg)
    state, coverage = to_target(backbone, model)
    # OUT appears only once the file loads back intact.
    with atomic_output(out) as tmp:
        torch.save({'state_dict': state,
                    'meta': {'target_config': os.path.abspath(config),
                             'coverage': coverage.summary()}}, tmp)
        checked = roundtrip_check(backbone_cfg, tmp)
    return coverage, checked


def num_heads_from_config(ckpt):
    """The ViT's attention heads, read from the config saved in ``ckpt``."""
    from mmengine.config import Config

    from mmeff.apis.export import ExportError
    cfg_text = ckpt.get('meta', {}).get('cfg')
    if not cfg_text:
        raise ExportError('the checkpoint holds no config; pass --num-heads')
    backbone = Config.fromstring(cfg_text, '.py').get('model', {}).get(
        'backbone', {})
    arch = backbone.get('arch')
    if isinstance(arch, str):
        from mmpretrain.models import VisionTransformer
        arch = VisionTransformer.arch_zoo.get(arch)
    if not isinstance(arch, dict) or 'num_heads' not in arch:
        raise ExportError(f"model.backbone (type {backbone.get('type')!r}) "
                          'has no ViT arch with num_heads; pass --num-heads')
    return arch['num_heads']


def write_format(backbone, arch, fmt, out):
    """Write ``out`` (and ``out.json`` for timm); return the coverage."""
    from mmeff.apis.export import timm_kwargs, to_mmpretrain, to_timm
    from mmeff.engine.outputs import atomic_output
    if fmt == 'mmpretrain':
        state, coverage = to_mmpretrain(backbone, arch)
        with atomic_output(out) as tmp:
            torch.save({'state_dict': state, 'meta': {'arch': arch}}, tmp)
        return coverage
    state, coverage = to_timm(backbone, arch)
    with atomic_output(out) as tmp:
        torch.save(state, tmp)
    with atomic_output(out + '.json') as tmp, open(tmp, 'w') as f:
        json.dump(timm_kwargs(arch), f, indent=2)
    return coverage


def main(argv=None):
    import mmeff  # noqa: F401  safe loading of MMEngine checkpoints
    from mmeff.apis.export import ExportError, backbone_state, check_vit_keys, vit_arch
    from mmeff.engine.checkpoint import CheckpointError, load_local_checkpoint
    from mmeff.engine.outputs import OutputExistsError, refuse_existing

    args = parse_args(argv)
    try:
        refuse_existing(args.out, args.overwrite)
        if args.format == 'timm':
            refuse_existing(args.out + '.json', args.overwrite)
        # Like the other tools, write into a folder that does not exist yet.
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
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
        check_vit_keys(backbone)
        heads = args.num_heads or num_heads_from_config(ckpt)
        coverage = write_format(backbone, vit_arch(backbone, heads),
                                args.format, args.out)
    except OutputExistsError as err:
        print(f'export_vit: error: {err}', file=sys.stderr)
        return 2
    except (ExportError, CheckpointError) as err:
        print(f'export_vit: error: {args.checkpoint}: {err}', file=sys.stderr)
        return 2
    except OSError as err:  # e.g. OUT's folder cannot be created
        print(f'export_vit: error: {err}', file=sys.stderr)
        return 2
    print(f'{args.format}: {coverage.summary()}')
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
