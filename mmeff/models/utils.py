"""Small helpers shared by mmeff's models."""


def pool_tokens(feats):
    """Reduce a backbone output to one vector per image.

    ViT ``raw`` outputs ``[B, 1 + N, C]`` are mean-pooled over the N patch
    tokens (MAE's global pooling); ``[B, C, H, W]`` maps are averaged over
    space; ``[B, C]`` vectors pass through. A tuple of stage outputs
    contributes its last element.
    """
    if isinstance(feats, (tuple, list)):
        feats = feats[-1]
    if feats.dim() == 3:
        return feats[:, 1:].mean(1) if feats.shape[1] > 1 else feats[:, 0]
    if feats.dim() == 4:
        return feats.mean((2, 3))
    return feats
