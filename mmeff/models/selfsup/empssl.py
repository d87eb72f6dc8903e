"""EMP-SSL: extreme-multi-patch self-supervised learning.

Tong, Chen, Ma, LeCun (2023), "EMP-SSL: Towards Self-Supervised Learning in
One Training Epoch"; released code tsb0601/EMP-SSL (``main.py``,
``model/model.py``). Every image is cut into n fixed-scale patches
(:class:`mmeff.data.transforms.MultiPatch`); one shared encoder and projector
embed all n * B patches; the loss is

    -1/n * sum_i R(Z_i) + lambda_inv * (-1/n * sum_i mean_b cos(z_ib, zbar_b))

with R the total coding rate of the i-th patches of the batch
(:class:`~mmeff.models.losses.TotalCodingRateLoss`, eps = 0.2) and zbar_b the
mean embedding of image b's patches
(:class:`~mmeff.models.losses.PatchInvarianceLoss`, lambda_inv = 200).
Representations for evaluation are the "bag of features": the mean of the
projector's first-layer output (the pre-feature) over many patches
(:mod:`mmeff.evaluation.bag_of_features`).

Memory bound (``patch_micro_batch``): activation memory of the encoder grows
with n * B. With ``patch_micro_batch=k`` the encoder runs over k patch
indices (k * B patches) at a time under activation checkpointing: the
forward keeps only each micro-batch's inputs and outputs, and the backward
recomputes one micro-batch at a time and back-propagates the gradient of the
full loss into it. The loss itself (coding rate over all images of a patch
index, invariance over all patches of an image) is still computed on all
n * B embeddings at once, so nothing about the objective is approximated.

What is exact: the parameter gradient equals that of the same forward
without checkpointing, bit for bit up to float summation order; for encoders
without batch statistics (GroupNorm/LayerNorm, eval-mode BN, timm ViTs) that
is the gradient of the unchunked model. What changes with BatchNorm: batch
statistics are taken per micro-batch (k * B patches instead of n * B), the
"ghost batch norm" that the released code's ``nn.DataParallel`` also
computes per GPU. Running statistics are updated once per micro-batch and
never twice (the recomputation restores them). RNG state is replayed, so
stochastic layers (drop path) see the same masks in the recomputation.
Cost: one extra encoder forward per step (about +30-40% compute); the
projector and loss run on all patches (their memory is not bounded).
"""
import contextlib

import torch
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

from mmeff.evaluation.features import pool_tokens

FEATURE_STAGES = ('backbone', 'pre_feature', 'projection')


class _RestoreNormStats:
    """Save BN running statistics on entry, put them back on exit.

    Used around the checkpoint recomputation so that each micro-batch
    updates the running statistics exactly once.
    """

    def __init__(self, module):
        self.norms = [m for m in module.modules()
                      if isinstance(m, _BatchNorm) and m.track_running_stats
                      and m.training]

    def __enter__(self):
        self.saved = [[b.clone() for b in (m.running_mean, m.running_var,
                                           m.num_batches_tracked)
                       if b is not None] for m in self.norms]

    def __exit__(self, *exc):
        with torch.no_grad():
            for m, saved in zip(self.norms, self.saved):
                bufs = [b for b in (m.running_mean, m.running_var,
                                    m.num_batches_tracked) if b is not None]
                for buf, value in zip(bufs, saved):
                    buf.copy_(value)
        return False


@MODELS.register_module()
class EMPSSL(BaseSelfSupervisor):
    """EMP-SSL (Tong, Chen, Ma, LeCun, 2023).

    Args:
        backbone (dict): the encoder, e.g. MMPretrain's ``ResNet_CIFAR``
            (depth 18, the paper's CIFAR encoder; the configs set
            ``zero_init_residual=False`` as torchvision's resnet18 in the
            release), ``ResNet`` (18/50) or
            ``TIMMBackbone``. Its last output is pooled to a vector (spatial
            mean of maps, mean of patch tokens).
        neck (dict, optional): projector. Defaults to
            ``EMPSSLProjector(512, 4096, 1024)`` (paper).
        head (dict, optional): losses. Defaults to ``EMPSSLHead`` with
            eps = 0.2 and lambda_inv = 200 (paper).
        num_patches (int, optional): if set, every batch must bring exactly
            this many patch views (guards against a pipeline/config mismatch).
        patch_micro_batch (int, optional): encoder micro-batch size in patch
            indices (see the module docstring). None runs all patches at once
            (the paper). Also bounds evaluation memory.
        data_preprocessor (dict, optional): Defaults to
            ``SelfSupDataPreprocessor``.
    """

    def __init__(self, backbone, neck=None, head=None, num_patches=None,
                 patch_micro_batch=None, pretrained=None,
                 data_preprocessor=None, init_cfg=None):
        for name, value in (('num_patches', num_patches),
                            ('patch_micro_batch', patch_micro_batch)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f'EMPSSL: {name} must be a positive int or '
                                 f'None, got {value!r}')
        if num_patches is not None and num_patches < 2:
            raise ValueError('EMPSSL: num_patches must be >= 2 (the invariance '
                             f'term compares patches), got {num_patches}')
        super().__init__(
            backbone=backbone,
            neck=neck if neck is not None else dict(type='EMPSSLProjector'),
            head=head if head is not None else dict(type='EMPSSLHead'),
            pretrained=pretrained, data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.num_patches = num_patches
        self.patch_micro_batch = patch_micro_batch

    # -- encoder -------------------------------------------------------
    def _encode(self, x):
        return pool_tokens(self.backbone(x))

    def _encode_patches(self, x, batch_size):
        """Pooled backbone features of ``x [n * B, C, H, W]`` (patch-major)."""
        k = self.patch_micro_batch
        if k is None or k * batch_size >= x.shape[0]:
            return self._encode(x)
        use_checkpoint = self.training and torch.is_grad_enabled()
        contexts = lambda: (contextlib.nullcontext(),  # noqa: E731
                            _RestoreNormStats(self.backbone))
        feats = []
        for part in x.split(k * batch_size):
            if use_checkpoint:
                feats.append(checkpoint(self._encode, part, use_reentrant=False,
                                        context_fn=contexts))
            else:
                feats.append(self._encode(part))
        return torch.cat(feats)

    @staticmethod
    def _check_views(inputs, what):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            got = (f'{len(inputs)} view(s)' if isinstance(inputs, (list, tuple))
                   else f'a {type(inputs).__name__}')
            raise ValueError(
                f'EMPSSL.{what}: expected a list of n >= 2 patch batches '
                f'(use the MultiPatch transform in the pipeline), got {got}')

    # -- training ------------------------------------------------------
    def loss(self, inputs, data_samples=None, **kwargs):
        """EMP-SSL losses of a batch of n patch views ``[B, C, H, W]`` each."""
        self._check_views(inputs, 'loss')
        if self.num_patches is not None and len(inputs) != self.num_patches:
            raise ValueError(
                f'EMPSSL.loss: num_patches={self.num_patches} but the pipeline '
                f'produced {len(inputs)} patches per image')
        n, b = len(inputs), inputs[0].shape[0]
        x = torch.cat(inputs)  # patch-major: rows i*B..(i+1)*B-1 are patch i
        _, z = self.neck(self._encode_patches(x, b))
        return self.head.loss(z.view(n, b, -1))

    # -- features ------------------------------------------------------
    def extract_feat(self, inputs, stage='pre_feature'):
        """Features of images or bags of patches.

        ``inputs`` is one batch ``[B, C, H, W]`` or a list of n patch batches;
        for a list the result is the mean over patches (the paper's bag of
        features). ``stage``: 'backbone', 'pre_feature' (paper) or
        'projection'. Patches are encoded ``patch_micro_batch`` at a time.
        """
        if stage not in FEATURE_STAGES:
            raise ValueError(f'EMPSSL.extract_feat: stage must be one of '
                             f'{FEATURE_STAGES}, got {stage!r}')
        views = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        step = self.patch_micro_batch or len(views)
        total = None
        for start in range(0, len(views), step):
            group = views[start:start + step]
            feat = self._encode(torch.cat(group))
            if stage != 'backbone':
                pre, z = self.neck(feat)
                feat = pre if stage == 'pre_feature' else z
            part = feat.view(len(group), group[0].shape[0], -1).sum(0)
            total = part if total is None else total + part
        return total / len(views)
