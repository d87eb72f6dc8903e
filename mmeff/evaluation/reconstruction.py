"""Masked-input / reconstruction / original grids for MAE-family models."""
import os

import numpy as np
import torch
from PIL import Image

from mmeff.fileio import atomic_output


@torch.no_grad()
def mae_reconstruct(model, inputs):
    """Run one masked forward pass of an MAE-style model.

    Args:
        model: an MMPretrain ``MAE`` or an mmeff ``EMAE`` (its first part is
            shown): the backbone returns latent, mask and ids_restore, the
            neck decodes, the head has ``patchify``/``unpatchify``.
        inputs (Tensor): preprocessed images ``[B, C, H, W]``.

    Returns:
        tuple[Tensor, Tensor]: the masked input and the reconstruction, both
        ``[B, C, H, W]`` in the preprocessed space. Visible patches of the
        reconstruction are taken from the input, as in the MAE paper's
        figures. With ``norm_pix`` the predicted patches are mapped back with
        each patch's own mean and variance (a display convention).
    """
    was_training = model.training
    model.eval()
    latent, mask, ids_restore = model.backbone(inputs)
    # EMAE encodes K parts per image, part-major: show the first part.
    batch = inputs.shape[0]
    pred = model.neck(latent, ids_restore)[:batch]
    mask = mask[:batch]
    head = model.head
    target = head.patchify(inputs)
    if head.norm_pix:
        mean = target.mean(-1, keepdim=True)
        std = (target.var(-1, keepdim=True) + 1e-6).sqrt()
        pred = pred * std + mean
    masked = mask.unsqueeze(-1)  # 1 where the patch was hidden
    recon = head.unpatchify(pred * masked + target * (1 - masked))
    hidden = head.unpatchify(target * (1 - masked))
    model.train(was_training)
    return hidden, recon


def save_reconstruction_grid(path, originals, masked, recons, mean, std):
    """Write rows of (masked input, reconstruction, original) to a PNG.

    ``mean``/``std`` undo the data preprocessor's normalisation (0-255).
    """
    mean = torch.as_tensor(mean).view(1, -1, 1, 1)
    std = torch.as_tensor(std).view(1, -1, 1, 1)

    def to_uint8(x):
        x = (x.cpu() * std + mean).clamp(0, 255).byte()
        return x.permute(0, 2, 3, 1).numpy()

    cols = [to_uint8(masked), to_uint8(recons), to_uint8(originals)]
    rows = [np.concatenate([c[i] for c in cols], axis=1)
            for i in range(originals.shape[0])]
    grid = np.concatenate(rows, axis=0)
    scale = max(1, 256 // originals.shape[-1])
    img = Image.fromarray(grid)
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    # The temporary name has no image extension: the format comes from
    # the final one.
    fmt = Image.registered_extensions().get(
        os.path.splitext(path)[1].lower(), 'PNG')
    with atomic_output(path) as tmp:
        img.save(tmp, format=fmt)
    return path
