"""BatchNorm-statistics matching, the recover step's prior.

SRe2L (Yin, Xing, Shen, "Squeeze, Recover and Relabel: Dataset Condensation at
ImageNet Scale From A New Perspective", NeurIPS 2023) recovers images whose
per-layer feature statistics match what the squeezed teacher's BatchNorm
layers accumulated over the real data:

    L_BN = sum_l alpha_l (||mu_l(x) - mu_BN,l||_2
                          + ||sigma2_l(x) - sigma2_BN,l||_2)

with ``alpha = 10`` on the first BN layer and 1 elsewhere (the paper's
``first_bn_multiplier``). The batch statistics are read from each BN layer's
input by a forward hook, so any teacher built from ``nn.BatchNorm*`` works
without changing its forward.
"""
import torch
from torch import nn

from .errors import NoBatchNormError


def batchnorm_layers(model):
    """The model's BatchNorm layers with running statistics, in order."""
    return [m for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)
            and m.track_running_stats and m.running_mean is not None]


def channel_stats(x):
    """Per-channel mean and biased variance of a BN input ``[N, C, ...]``.

    Biased (``unbiased=False``), as BatchNorm normalises a batch in training.
    """
    flat = x.transpose(0, 1).reshape(x.shape[1], -1)
    return flat.mean(1), flat.var(1, unbiased=False)


class BNStatsMatcher:
    """Collects BN-input statistics with forward hooks and scores them.

    Args:
        model (nn.Module): the teacher; must contain BatchNorm layers.
        first_bn_multiplier (float): ``alpha`` of the first BN layer; 10 in
            the paper's released settings for ImageNet-1K and Tiny-ImageNet.
        name (str): how to name the teacher in the error raised when it has
            no BatchNorm layer (e.g. its config file).

    Use as a context manager, or call :meth:`remove` when done. After each
    forward pass, :meth:`loss` returns ``L_BN`` of that pass.
    """

    def __init__(self, model, first_bn_multiplier=10., name='the teacher'):
        self.layers = batchnorm_layers(model)
        if not self.layers:
            raise NoBatchNormError(
                f'{name} has no BatchNorm layer with running statistics: '
                'SRe2L recovery matches BN statistics, so squeeze a teacher '
                'with BatchNorm (e.g. ResNet-18)')
        self.weights = [float(first_bn_multiplier)] + [1.] * (
            len(self.layers) - 1)
        self._stats = [None] * len(self.layers)
        self._handles = [
            layer.register_forward_hook(self._make_hook(i))
            for i, layer in enumerate(self.layers)]

    def _make_hook(self, index):
        def hook(module, inputs, output):
            self._stats[index] = channel_stats(inputs[0])
        return hook

    def per_layer(self):
        """Unweighted ``||mu - mu_BN|| + ||var - var_BN||`` of each layer."""
        if any(s is None for s in self._stats):
            raise RuntimeError('run a forward pass before asking for the '
                               'BN-matching loss')
        terms = []
        for layer, (mean, var) in zip(self.layers, self._stats):
            terms.append(
                torch.linalg.vector_norm(mean - layer.running_mean, 2) +
                torch.linalg.vector_norm(var - layer.running_var, 2))
        return terms

    def loss(self):
        """``sum_l alpha_l * term_l`` of the last forward pass."""
        return sum(w * t for w, t in zip(self.weights, self.per_layer()))

    def remove(self):
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
