"""Downstream configs, pretraining checkpoints and small config variants."""
import importlib.util
import os.path as osp

import torch

from tests.helpers.tools import REPO

DOWNSTREAM = osp.join(REPO, 'configs', 'downstream')
DET = osp.join(DOWNSTREAM,
               'mask-rcnn_vit-b-p16_simplefpn_lsj-1024_coco_emae.py')
SEG = osp.join(DOWNSTREAM,
               'upernet_vit-b-p16_mln_8xb2-160k_ade20k-512x512_emae.py')
FT = osp.join(DOWNSTREAM, 'vit-base-p16_8xb128-dailymae-ft-100e_in1k_essl.py')
FT_TINY = osp.join(DOWNSTREAM,
                   'vit-tiny-p4_1xb64-dailymae-ft-20e_fashion-mnist_essl.py')
PROBE = osp.join(DOWNSTREAM,
                 'resnet18-cifar_linear-probe-100e_cifar10_empssl.py')

# A ViT with ViT-B's 12 blocks (so every out_indices of the configs exists)
# at 32 channels: the configs' structure at a fraction of the cost.
NARROW_VIT = dict(embed_dims=32, num_layers=12, num_heads=2,
                  feedforward_channels=64)
# The quickstart's tiny ViT (configs/quickstart, 32x32 images, 4x4 patches).
QUICKSTART_VIT = dict(embed_dims=128, num_layers=6, num_heads=4,
                      feedforward_channels=512)


def narrow_variant(tmp_path, config, name, **extra):
    """A child config of ``config`` whose ViT is :data:`NARROW_VIT`.

    ``extra`` is written verbatim as further top-level assignments.
    """
    lines = [f'_base_ = {config!r}',
             f'model = dict(backbone=dict(arch=dict(_delete_=True, '
             f'**{NARROW_VIT!r})))']
    lines += [f'{key} = {value!r}' for key, value in extra.items()]
    path = tmp_path / f'{name}.py'
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def pretraining_checkpoint(path, backbone, seed=0, with_decoder=True):
    """Save ``backbone`` as an MMPretrain pretraining run would.

    Weights are moved away from their initial values so that a key which
    silently keeps its init is caught by the comparisons.
    """
    torch.manual_seed(seed)
    state = {}
    for key, value in backbone.state_dict().items():
        if value.is_floating_point():
            value = value + 0.01 * torch.randn_like(value)
        state[f'backbone.{key}'] = value
    if with_decoder:  # what an MAE checkpoint holds beside the encoder
        state['neck.decoder_pos_embed'] = torch.zeros(1, 5, 8)
        state['neck.decoder_norm.weight'] = torch.ones(8)
    torch.save({'state_dict': state, 'meta': {'epoch': 1}}, path)
    return str(path)


def mae_vit(arch, img_size, patch_size):
    """The encoder of MMPretrain's MAE (same keys as VisionTransformer)."""
    from mmpretrain.models import MAEViT
    arch = dict(arch) if isinstance(arch, dict) else arch
    return MAEViT(arch=arch, img_size=img_size, patch_size=patch_size)


def export_vit(*argv):
    """Run tools/model_converters/export_vit.py's ``main`` in-process."""
    spec = importlib.util.spec_from_file_location(
        'export_vit', osp.join(REPO, 'tools/model_converters/export_vit.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main([str(a) for a in argv])
