"""Export a pretrained ViT encoder to MMPretrain and timm, with key coverage.

MMEngine's ``Pretrained`` init loads with ``strict=False`` and only logs what
it skipped, so a wrong prefix silently leaves a backbone at random init. The
exporters here compare every key and shape against the model the file is
meant for and refuse to produce a partial file.
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List

import torch


class ExportError(ValueError):
    """A checkpoint cannot be exported completely."""


@dataclass
class Coverage:
    """How a state dict matches the keys a target model expects."""
    expected: int
    matched: int
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    shape_mismatch: List[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.missing or self.shape_mismatch)

    def summary(self) -> str:
        return (f'{self.matched}/{self.expected} keys matched '
                f'({100.0 * self.matched / max(self.expected, 1):.1f}%), '
                f'missing {len(self.missing)}, shape mismatch '
                f'{len(self.shape_mismatch)}, unused {len(self.unexpected)}')


def check_coverage(state_dict: Dict[str, torch.Tensor],
                   target: Dict[str, torch.Tensor]) -> Coverage:
    missing = [k for k in target if k not in state_dict]
    mismatch = [
        k for k in target
        if k in state_dict and state_dict[k].shape != target[k].shape
    ]
    unexpected = [k for k in state_dict if k not in target]
    matched = len(target) - len(missing) - len(mismatch)
    return Coverage(len(target), matched, missing, unexpected, mismatch)


def require_complete(coverage: Coverage, what: str):
    if not coverage.complete:
        shown = (coverage.missing + coverage.shape_mismatch)[:5]
        raise ExportError(f'{what}: {coverage.summary()}; e.g. {shown}. '
                          'Refusing to write a partial checkpoint.')


def backbone_state(checkpoint: dict, prefix: str = 'backbone.'):
    """The encoder weights of a pretraining checkpoint, prefix removed."""
    state = checkpoint.get('state_dict', checkpoint)
    backbone = {k[len(prefix):]: v for k, v in state.items()
                if k.startswith(prefix)}
    if not backbone:
        raise ExportError(f'no keys start with {prefix!r}; is this a '
                          'pretraining checkpoint of an MMPretrain model?')
    return backbone


def vit_arch(backbone: Dict[str, torch.Tensor], num_heads: int):
    """ViT hyper-parameters read from the weights (heads must be given)."""
    depth = 1 + max(int(m.group(1)) for k in backbone
                    for m in [re.match(r'layers\.(\d+)\.', k)] if m)
    proj = backbone['patch_embed.projection.weight']
    embed_dims = proj.shape[0]
    hidden = backbone['layers.0.ffn.layers.0.0.weight'].shape[0]
    if embed_dims % num_heads:
        raise ExportError(f'num_heads={num_heads} does not divide '
                          f'embed_dims={embed_dims}')
    num_tokens = backbone['pos_embed'].shape[1] - 1
    side = int(round(num_tokens**0.5))
    return dict(embed_dims=embed_dims, num_layers=depth, num_heads=num_heads,
                feedforward_channels=hidden, patch_size=proj.shape[-1],
                img_size=side * proj.shape[-1])


def build_mmpretrain_vit(arch: dict):
    from mmpretrain.models import VisionTransformer
    return VisionTransformer(
        arch={k: arch[k] for k in ('embed_dims', 'num_layers', 'num_heads',
                                   'feedforward_channels')},
        img_size=arch['img_size'], patch_size=arch['patch_size'],
        out_type='raw', final_norm=True)


def to_mmpretrain(backbone: Dict[str, torch.Tensor], arch: dict):
    """``backbone.``-prefixed state dict for MMPretrain's VisionTransformer."""
    target = build_mmpretrain_vit(arch).state_dict()
    coverage = check_coverage(backbone, target)
    require_complete(coverage, 'MMPretrain VisionTransformer')
    return {f'backbone.{k}': backbone[k] for k in target}, coverage


_TIMM_RENAMES = [
    (r'^patch_embed\.projection\.', 'patch_embed.proj.'),
    (r'^layers\.(\d+)\.ln1\.', r'blocks.\1.norm1.'),
    (r'^layers\.(\d+)\.ln2\.', r'blocks.\1.norm2.'),
    (r'^layers\.(\d+)\.attn\.', r'blocks.\1.attn.'),
    (r'^layers\.(\d+)\.ffn\.layers\.0\.0\.', r'blocks.\1.mlp.fc1.'),
    (r'^layers\.(\d+)\.ffn\.layers\.1\.', r'blocks.\1.mlp.fc2.'),
    (r'^ln1\.', 'norm.'),
]


def timm_kwargs(arch: dict) -> dict:
    """``timm.create_model`` arguments for the exported encoder."""
    return dict(model_name='vit_base_patch16_224', pretrained=False,
                num_classes=0, img_size=arch['img_size'],
                patch_size=arch['patch_size'], embed_dim=arch['embed_dims'],
                depth=arch['num_layers'], num_heads=arch['num_heads'],
                mlp_ratio=arch['feedforward_channels'] / arch['embed_dims'])


def to_timm(backbone: Dict[str, torch.Tensor], arch: dict):
    """State dict for ``timm.create_model(**timm_kwargs(arch))``."""
    import timm
    renamed = {}
    for key, value in backbone.items():
        for pattern, repl in _TIMM_RENAMES:
            key = re.sub(pattern, repl, key)
        renamed[key] = value
    kwargs = timm_kwargs(arch)
    target = timm.create_model(**kwargs).state_dict()
    coverage = check_coverage(renamed, target)
    require_complete(coverage, f"timm {kwargs['model_name']}")
    return {k: renamed[k] for k in target}, coverage
