"""EMAE's encoder: K disjoint visible sets per image, encoded as one batch."""
import torch
from mmpretrain.registry import MODELS

from mmeff.errors import ConfigError

from .var_res_mae_vit import VarResMAEViT


@MODELS.register_module()
class EMAEViT(VarResMAEViT):
    """ViT encoder with EMAE's parallel masking (Li et al., 2023).

    "Efficient Masked Autoencoders with Self-Consistency" (arXiv:2302.14431)
    splits the N patches of an image by one random permutation into
    ``num_parts`` (K) disjoint visible sets of N/K patches. Part k sees the
    k-th block of the permutation and has the other K-1 blocks masked, so
    each part's mask ratio is exactly 1 - 1/K (K=4 gives MAE's 75%) and every
    patch is visible in exactly one part. The K parts of a batch of B images
    are encoded together as a batch of K*B, part-major (row ``k*B + b`` is
    part k of image b). Position embeddings follow the input grid
    (:class:`VarResMAEViT`).

    Args:
        num_parts (int): K, at least 2, dividing the number of patches.
            Defaults to 4, the paper's setting (75% mask ratio per part).
        Others: as :class:`VarResMAEViT`; ``mask_ratio`` is derived from K:
            leave it out or ``None``, or give the value 1 - 1/K (an
            inherited MAE ``mask_ratio`` must agree with it).
    """

    def __init__(self, *args, num_parts=4, **kwargs):
        if (not isinstance(num_parts, int) or isinstance(num_parts, bool)
                or num_parts < 2):
            raise ConfigError(f'num_parts={num_parts!r}: EMAE needs an '
                              'integer of at least 2 parts (mask ratio '
                              '1 - 1/num_parts)')
        ratio = 1 - 1 / num_parts
        given = kwargs.get('mask_ratio')
        if given is not None and (not isinstance(given, (int, float))
                                  or abs(given - ratio) > 1e-9):
            raise ConfigError(
                f'mask_ratio={given!r} conflicts with num_parts={num_parts} '
                f'(mask ratio 1 - 1/K = {ratio:g}); set num_parts instead, '
                'or mask_ratio=None')
        kwargs['mask_ratio'] = ratio
        super().__init__(*args, **kwargs)
        self.num_parts = num_parts
        self._check_divides(self.num_patches, tuple(self.patch_resolution))

    def _valid_sizes(self, side, count=4):
        """Square input sizes near ``side`` px whose patch count K divides:
        the ``count`` closest, ascending."""
        grid = side // self.patch_size
        grids = [g for g in range(1, 2 * grid + 2 * self.num_parts)
                 if (g * g) % self.num_parts == 0]
        closest = sorted(grids, key=lambda g: (abs(g - grid), g))[:count]
        return sorted(g * self.patch_size for g in closest)

    def _check_divides(self, num_patches, grid=None):
        if num_patches % self.num_parts == 0:
            return
        message = (f'num_parts={self.num_parts} does not divide the '
                   f'{num_patches} patches of the input')
        if grid is not None and grid[0] == grid[1]:
            side = grid[0] * self.patch_size
            sizes = ', '.join(map(str, self._valid_sizes(side)))
            message += (f' ({side}x{side} px, patch_size={self.patch_size})'
                        f'; input sizes near it that num_parts divides: '
                        f'{sizes}')
        parts = [k for k in range(2, num_patches + 1) if num_patches % k == 0]
        raise ConfigError(f'{message}; or num_parts in {parts} for this size')

    def check_input_size(self, size) -> int:
        """As :class:`VarResMAEViT`, and K must divide the patch count."""
        num_patches = super().check_input_size(size)
        h, w = (size, size) if isinstance(size, int) else size
        self._check_divides(num_patches,
                            (h // self.patch_size, w // self.patch_size))
        return num_patches

    def check_mask_ratio_at(self, mask_ratio, size) -> None:
        """EMAE's mask ratio is 1 - 1/K at every size; refuse another."""
        raise ConfigError(f'mask_ratio={mask_ratio} at size {size}: EMAE '
                          f'fixes the mask ratio by num_parts={self.num_parts}'
                          '; remove mask_ratio from the stages')

    def parallel_masking(self, tokens: torch.Tensor):
        """Split ``tokens [B, N, C]`` into K disjoint visible sets.

        Returns:
            tuple: visible tokens ``[K*B, N/K, C]``, mask ``[K*B, N]`` (1 =
            hidden), and ``ids_restore [K*B, N]`` in MAE's convention (the
            visible tokens first, then the hidden ones in shuffled order).
        """
        batch, num_patches, dims = tokens.shape
        self._check_divides(num_patches)
        visible = num_patches // self.num_parts
        ids_shuffle = torch.rand(batch, num_patches,
                                 device=tokens.device).argsort(dim=1)
        # Rolling the permutation by k blocks puts part k's block first.
        ids_shuffle = torch.cat([
            ids_shuffle.roll(-k * visible, dims=1)
            for k in range(self.num_parts)
        ])
        ids_restore = ids_shuffle.argsort(dim=1)
        ids_keep = ids_shuffle[:, :visible]
        visible_tokens = torch.gather(
            tokens.repeat(self.num_parts, 1, 1), 1,
            ids_keep.unsqueeze(-1).expand(-1, -1, dims))
        mask = torch.ones_like(ids_shuffle, dtype=tokens.dtype)
        mask[:, :visible] = 0
        return visible_tokens, torch.gather(mask, 1, ids_restore), ids_restore

    def forward(self, x: torch.Tensor, mask=True):
        """Encode the K parts (``mask=True``) or the whole image."""
        if not mask:
            return super().forward(x, mask=False)
        tokens, cls_token, _ = self.embed(x)
        tokens, mask, ids_restore = self.parallel_masking(tokens)
        return self.encode(tokens, cls_token), mask, ids_restore
