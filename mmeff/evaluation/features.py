"""Frozen-feature extraction from an MMPretrain model over a dataloader."""
import torch


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


def preprocess(model, batch):
    """Run the model's data preprocessor; return ``(images, data_samples)``.

    Self-supervised preprocessors return a list of views; the first view is
    the image itself.
    """
    data = model.data_preprocessor(batch, False)
    inputs = data['inputs']
    if isinstance(inputs, (list, tuple)):
        inputs = inputs[0]
    return inputs, data['data_samples']


@torch.no_grad()
def extract_features(model, dataloader):
    """Return ``(features [N, C], labels [N])`` of ``model.extract_feat``.

    Batches go through the model's own data preprocessor, so the features
    match what the model saw in training.
    """
    was_training = model.training
    model.eval()
    feats, labels = [], []
    for batch in dataloader:
        inputs, samples = preprocess(model, batch)
        feats.append(pool_tokens(model.extract_feat(inputs)).float())
        labels.append(torch.cat([s.gt_label for s in samples]))
    model.train(was_training)
    return torch.cat(feats).cpu(), torch.cat(labels).cpu()
