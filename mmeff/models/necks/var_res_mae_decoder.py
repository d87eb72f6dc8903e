"""MAE's decoder with position embeddings that follow the token count."""
import math

import torch
from mmpretrain.models.necks import MAEPretrainDecoder
from mmpretrain.registry import MODELS

from ..backbones.var_res_mae_vit import sincos_pos_embed


@MODELS.register_module()
class VarResMAEPretrainDecoder(MAEPretrainDecoder):
    """:class:`mmpretrain.models.MAEPretrainDecoder` at any square grid.

    The decoder's fixed sin-cos position table is rebuilt for the number of
    patches of each batch (a square grid: MAE's pixel head patchifies square
    images). At ``num_patches`` it is identical to the upstream decoder.
    """

    def pos_embed_for(self, num_patches: int) -> torch.Tensor:
        if num_patches == self.num_patches:
            return self.decoder_pos_embed
        side = math.isqrt(num_patches)
        if side * side != num_patches:
            raise ValueError(f'{num_patches} patches do not form a square '
                             'grid; the MAE decoder needs square inputs')
        return sincos_pos_embed((side, side), self.decoder_pos_embed.shape[-1],
                                self.decoder_pos_embed)

    def forward(self, x: torch.Tensor, ids_restore: torch.Tensor):
        """Decode ``x [B, 1 + n_visible, C]`` to ``[B, N, patch_dim]``."""
        x = self.decoder_embed(x)
        batch, num_patches, dims = x.shape[0], ids_restore.shape[1], x.shape[2]
        # Mask tokens fill the hidden slots; ids_restore undoes the shuffle.
        mask_tokens = self.mask_token.expand(batch, num_patches + 1 - x.shape[1], -1)
        tokens = torch.cat([x[:, 1:], mask_tokens], dim=1)
        tokens = torch.gather(
            tokens, 1, ids_restore.unsqueeze(-1).expand(-1, -1, dims))
        x = torch.cat([x[:, :1], tokens], dim=1) + self.pos_embed_for(num_patches)
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]
