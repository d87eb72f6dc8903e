"""MAE's ViT encoder with position embeddings that follow the input grid."""
import functools
from typing import Optional, Tuple

import numpy as np
import torch
from mmpretrain.models.selfsup.mae import MAEViT
from mmpretrain.models.utils import build_2d_sincos_position_embedding
from mmpretrain.registry import MODELS

from mmeff.errors import ConfigError
from mmeff.models.utils import patch_count


@functools.lru_cache(maxsize=64)
def _sincos_table(grid, dims, device, dtype):
    embed = build_2d_sincos_position_embedding(grid, dims, cls_token=True)
    return embed.to(device=device, dtype=dtype)


def sincos_pos_embed(grid: Tuple[int, int], dims: int, like: torch.Tensor):
    """Fixed 2-D sin-cos embedding ``[1, 1 + h*w, dims]`` (zero cls slot).

    Built once per grid, dims, device and dtype: a curriculum's step at a
    low resolution would otherwise rebuild it (tens of small operations)
    in the encoder and in the decoder. The table is never changed in place.
    A compiled graph builds it once per shape anyway (no cache lookup).
    """
    table = _sincos_table.__wrapped__ if torch.compiler.is_compiling() \
        else _sincos_table
    return table(tuple(grid), dims, like.device, like.dtype)


def check_patch_multiple(img_size, patch_size, field='img_size'):
    sizes = img_size if isinstance(img_size, (tuple, list)) else (img_size, )
    if any(s % patch_size for s in sizes):
        raise ConfigError(f'{field}={img_size} is not a multiple of '
                          f'patch_size={patch_size}')


def check_mask_ratio(mask_ratio, num_patches):
    """Refuse a ratio that leaves no visible or no masked patch.

    MAE keeps ``int(N * (1 - mask_ratio))`` patches: a ratio outside (0, 1)
    would silently keep a wrong number of them (negative slices wrap) or none
    at all, and a ratio that masks nothing makes the loss over masked patches
    0/0 = NaN from the first iteration.
    """
    if not isinstance(mask_ratio, (int, float)) or isinstance(mask_ratio,
                                                              bool):
        raise ConfigError(f'mask_ratio={mask_ratio!r} must be a number '
                          'between 0 and 1, e.g. 0.75')
    visible = int(num_patches * (1 - mask_ratio))
    if not 0 < mask_ratio < 1 or not 0 < visible < num_patches:
        raise ConfigError(
            f'mask_ratio={mask_ratio} keeps {max(visible, 0)} of '
            f'{num_patches} patches visible; it must be in (0, 1) and leave '
            'at least one patch visible and one masked, e.g. 0.75')


@MODELS.register_module()
class VarResMAEViT(MAEViT):
    """MAE encoder (He et al., CVPR 2022) at any multiple of the patch size.

    MAE's position embeddings are fixed 2-D sin-cos tables, so instead of
    interpolating the table built for ``img_size`` (what MMPretrain's ViT
    does), this encoder rebuilds the exact table for the grid of each input.
    One model thus pretrains at 160, 192 and 224 in the same run (DailyMAE's
    progressive resolution) and extracts features at any resolution. At
    ``img_size`` it is identical to :class:`mmpretrain.models.MAEViT`, and its
    state dict has the same keys.

    Args: as :class:`mmpretrain.models.MAEViT`; ``img_size`` must be a
        multiple of ``patch_size``, and so must every input. ``mask_ratio``
        must leave at least one patch visible and one masked at
        ``img_size`` (checked at build time).
    """

    def __init__(self, arch='b', img_size=224, patch_size=16, **kwargs):
        check_patch_multiple(img_size, patch_size)
        super().__init__(
            arch=arch, img_size=img_size, patch_size=patch_size, **kwargs)
        self.patch_size = patch_size
        check_mask_ratio(self.mask_ratio, self.num_patches)
        # MMPretrain hands each layer a NumPy drop-path rate; torch.compile
        # cannot trace a branch on a NumPy scalar and breaks the graph there.
        for module in self.modules():
            if isinstance(getattr(module, 'drop_prob', None), np.floating):
                module.drop_prob = float(module.drop_prob)

    def check_input_size(self, size) -> int:
        """Refuse an input this encoder cannot take; return its patch count.

        The interface resolution curricula check every stage against before
        training. ``size`` is an int (square) or ``(h, w)``; each side must
        be a multiple of ``patch_size``.
        """
        return patch_count(size, self.patch_size)

    def check_mask_ratio_at(self, mask_ratio, size) -> None:
        """Refuse a mask ratio that leaves no visible or masked patch."""
        check_mask_ratio(mask_ratio, self.check_input_size(size))

    def grid_pos_embed(self, grid: Tuple[int, int]) -> torch.Tensor:
        """``[1, 1 + h*w, C]`` position embedding for a ``grid`` of patches."""
        if tuple(grid) == tuple(self.patch_resolution):
            return self.pos_embed
        return sincos_pos_embed(tuple(grid), self.embed_dims, self.pos_embed)

    def embed(self, x: torch.Tensor):
        """Patch-embed images; return tokens with position and the cls token.

        Returns:
            tuple: patch tokens ``[B, N, C]``, cls token ``[1, 1, C]`` (with
            its position), and the patch grid ``(h, w)``.
        """
        self.check_input_size(tuple(x.shape[-2:]))
        tokens, grid = self.patch_embed(x)
        pos = self.grid_pos_embed(grid)
        return tokens + pos[:, 1:], self.cls_token + pos[:, :1], grid

    def encode(self, tokens: torch.Tensor, cls_token: torch.Tensor):
        """Prepend the cls token and run the transformer and final norm."""
        x = torch.cat([cls_token.expand(tokens.shape[0], -1, -1), tokens], 1)
        for layer in self.layers:
            x = layer(x)
        return self.norm1(x)

    def forward(self, x: torch.Tensor, mask: Optional[bool] = True):
        """Masked encoding (``mask=True``) or features of the full image.

        Returns ``(latent [B, 1 + N*(1-r), C], mask [B, N], ids_restore
        [B, N])`` when masking, else a tuple with ``[B, 1 + N, C]`` tokens.
        """
        tokens, cls_token, grid = self.embed(x)
        if not mask:
            return (self._format_output(self.encode(tokens, cls_token), grid), )
        tokens, mask, ids_restore = self.random_masking(tokens, self.mask_ratio)
        return self.encode(tokens, cls_token), mask, ids_restore
