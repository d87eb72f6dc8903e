"""EMAE: MAE with K parallel disjoint masks and self-consistency."""
from typing import Dict, List

import torch
from mmpretrain.models.selfsup import MAE
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch.utils.checkpoint import checkpoint

from mmeff.errors import ConfigError
from mmeff.models.backbones.emae_vit import EMAEViT


@MODELS.register_module()
class EMAE(MAE):
    """Efficient Masked Autoencoders with Self-Consistency (Li et al., 2023).

    arXiv:2302.14431 (IEEE TPAMI 2024). Each image is split into K disjoint
    visible sets (:class:`~mmeff.models.EMAEViT`), so one iteration runs K
    MAE tasks that together use every patch. The loss is MAE's pixel loss
    (the head's, e.g. normalised pixels, masked patches) averaged over the K
    parts, plus ``consistency_weight`` times
    :class:`~mmeff.models.SelfConsistencyLoss` over pairs of parts.

    Defaults reproduce the published ViT-B setting where the paper states it:
    K=4 (75% mask per part), MAE's norm-pix L2 loss and decoder. The weight of
    the consistency term is not given in the material available to us;
    ``consistency_weight=0.1`` is our choice: at 1.0 the parts' predictions of
    shared hidden patches collapsed to context-free ones on the bundled data
    (the encoder stopped improving), at 0.1 training matched MAE's.

    An iteration costs about K MAE iterations, so compare EMAE with MAE at
    equal wall time or equal parts seen, not per epoch.

    Args:
        backbone (dict): an ``EMAEViT`` config (``num_parts`` = K).
        neck (dict): MAE decoder, e.g. ``VarResMAEPretrainDecoder``.
        head (dict): ``MAEPretrainHead`` (pixel loss type lives here).
        consistency_weight (float): lambda. Defaults to 0.1.
        consistency (dict): the consistency loss config.
        part_chunks (int): encode/decode the K parts in this many chunks
            under activation checkpointing. Same loss and gradients, peak
            activation memory of one chunk, one extra forward pass of the
            encoder and decoder. Defaults to 1 (no chunking).
    """

    def __init__(self, backbone: dict, neck: dict, head: dict,
                 consistency_weight: float = 0.1,
                 consistency: dict = dict(type='SelfConsistencyLoss'),
                 part_chunks: int = 1, **kwargs):
        super().__init__(backbone=backbone, neck=neck, head=head, **kwargs)
        if not isinstance(self.backbone, EMAEViT):
            raise ConfigError('EMAE needs a backbone with parallel masking '
                             "(type='EMAEViT'), got "
                             f'{type(self.backbone).__name__}')
        num_parts = self.backbone.num_parts
        if not 1 <= part_chunks <= num_parts or num_parts % part_chunks:
            raise ConfigError(f'part_chunks={part_chunks} must divide '
                              f'num_parts={num_parts}')
        self.num_parts = num_parts
        self.consistency_weight = consistency_weight
        self.consistency = MODELS.build(consistency)
        self.part_chunks = part_chunks

    def _decode(self, tokens, cls_token, ids_restore):
        return self.neck(self.backbone.encode(tokens, cls_token), ids_restore)

    def predict_parts(self, inputs: torch.Tensor):
        """Predictions ``[K*B, N, D]`` and masks ``[K*B, N]`` of all parts."""
        tokens, cls_token, _ = self.backbone.embed(inputs)
        tokens, mask, ids_restore = self.backbone.parallel_masking(tokens)
        if self.part_chunks == 1:
            return self._decode(tokens, cls_token, ids_restore), mask
        rows = tokens.shape[0] // self.part_chunks
        preds = [
            checkpoint(self._decode, tokens[s:s + rows], cls_token,
                       ids_restore[s:s + rows], use_reentrant=False)
            for s in range(0, tokens.shape[0], rows)
        ]
        return torch.cat(preds), mask

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        pred, mask = self.predict_parts(inputs)
        target = self.head.construct_target(inputs)
        # Every part hides the same number of patches, so the masked mean
        # over K*B rows is the mean of the K per-part MAE losses.
        loss_rec = self.head.loss_module(
            pred, target.repeat(self.num_parts, 1, 1), mask)
        batch = inputs.shape[0]
        loss_sc = self.consistency(
            pred.view(self.num_parts, batch, *pred.shape[1:]),
            mask.view(self.num_parts, batch, -1))
        return dict(loss_rec=loss_rec,
                    loss_sc=self.consistency_weight * loss_sc)
