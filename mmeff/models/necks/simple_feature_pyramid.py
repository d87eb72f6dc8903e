"""ViTDet's simple feature pyramid on one stride-16 ViT map."""
from typing import Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.models.utils import LayerNorm2d
from mmpretrain.registry import MODELS


def _rescale(channels: int, factor: float) -> nn.Module:
    """Resample a map by ``factor`` (4, 2, 1 or 0.5), as ViTDet does."""
    if factor == 4:
        half = channels // 2
        return nn.Sequential(
            nn.ConvTranspose2d(channels, half, 2, stride=2),
            LayerNorm2d(half, eps=1e-6), nn.GELU(),
            nn.ConvTranspose2d(half, half // 2, 2, stride=2))
    if factor == 2:
        return nn.ConvTranspose2d(channels, channels // 2, 2, stride=2)
    if factor == 1:
        return nn.Identity()
    if factor == 0.5:
        return nn.MaxPool2d(2, stride=2)
    raise ValueError(f'scale factor {factor} not in (4, 2, 1, 0.5)')


def _rescaled_channels(channels: int, factor: float) -> int:
    return {4: channels // 4, 2: channels // 2}.get(factor, channels)


@MODELS.register_module()
class SimpleFeaturePyramid(BaseModule):
    """Multi-scale maps from the last map of a plain ViT (ViTDet).

    ViTDet (Li, Mao, Girshick, He, ECCV 2022, "Exploring Plain Vision
    Transformer Backbones for Object Detection", Sec. 3 and Fig. 2c) shows
    that a detector needs no hierarchical backbone: the pyramid is built
    from the last stride-16 map alone, by two stride-2 deconvolutions
    (stride 4), one (stride 8), identity (stride 16) and 2x2 max pooling
    (stride 32); every level then gets a 1x1 and a 3x3 convolution, each
    followed by LayerNorm over channels. Like MMDetection's ``FPN`` with
    ``num_outs=5`` (and Detectron2's ``LastLevelMaxPool``), extra levels
    are made by stride-2 subsampling (1x1 max pool) of the last one, so the
    RPN gets strides 4, 8, 16, 32, 64.

    Written with ``torch.nn`` only (no ``mmcv.ops``), so it builds wherever
    MMPretrain does. Registered in MMPretrain's ``MODELS``: from an
    MMDetection config use ``type='mmpretrain.SimpleFeaturePyramid'``.

    Shapes, for the input of an MMPretrain ``VisionTransformer`` with
    ``patch_size=16``, ``out_type='featmap'`` and one ``out_indices`` entry,
    on images of ``H x W`` (multiples of 64 keep every level exact)::

        inputs:  ([B, in_channels, H/16, W/16],)
        outputs: ([B, out_channels, H/4,  W/4],     # scale 4
                  [B, out_channels, H/8,  W/8],     # scale 2
                  [B, out_channels, H/16, W/16],    # scale 1
                  [B, out_channels, H/32, W/32],    # scale 0.5
                  [B, out_channels, H/64, W/64])    # extra level (P6)

    Args:
        in_channels (int): channels of the ViT map (768 for ViT-B).
        out_channels (int): channels of every output level. Defaults to 256.
        scale_factors (Sequence[float]): resampling of each level relative
            to the input map, from the finest. Defaults to (4, 2, 1, 0.5).
        num_outs (int): number of outputs; those beyond
            ``len(scale_factors)`` are stride-2 subsamplings of the previous
            one. Defaults to 5.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-6.
        init_cfg (dict | list[dict], optional): MMEngine init config.
            Defaults to Caffe2's "Xavier" fill for the convolutions (uniform
            Kaiming with a=1, zero bias), which Detectron2 uses here.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int = 256,
                 scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                 num_outs: int = 5,
                 norm_eps: float = 1e-6,
                 init_cfg=dict(type='Kaiming', layer='Conv2d', a=1,
                               mode='fan_in', nonlinearity='leaky_relu',
                               distribution='uniform')):
        super().__init__(init_cfg)
        if num_outs < len(scale_factors):
            raise ValueError(f'num_outs={num_outs} < {len(scale_factors)} '
                             'scale factors')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.scale_factors = tuple(float(s) for s in scale_factors)
        self.num_outs = num_outs
        self.rescales = nn.ModuleList()
        self.lateral_convs = nn.ModuleList()
        self.output_convs = nn.ModuleList()
        for factor in self.scale_factors:
            self.rescales.append(_rescale(in_channels, factor))
            mid = _rescaled_channels(in_channels, factor)
            # Bias-free convolutions: the LayerNorm after each adds one.
            self.lateral_convs.append(nn.Sequential(
                nn.Conv2d(mid, out_channels, 1, bias=False),
                LayerNorm2d(out_channels, eps=norm_eps)))
            self.output_convs.append(nn.Sequential(
                nn.Conv2d(out_channels, out_channels, 3, padding=1,
                          bias=False),
                LayerNorm2d(out_channels, eps=norm_eps)))

    def forward(self, inputs):
        """Tuple of ``num_outs`` maps from the last map of ``inputs``."""
        x = inputs[-1] if isinstance(inputs, (list, tuple)) else inputs
        if x.dim() != 4 or x.size(1) != self.in_channels:
            raise ValueError(
                f'SimpleFeaturePyramid expects [B, {self.in_channels}, h, w] '
                f"(a ViT with out_type='featmap'), got {tuple(x.shape)}")
        outs = [out(lat(rescale(x))) for rescale, lat, out in zip(
            self.rescales, self.lateral_convs, self.output_convs)]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return tuple(outs)
