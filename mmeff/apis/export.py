"""Export a pretrained ViT encoder to MMPretrain and timm, with key coverage.

MMEngine's ``Pretrained`` init loads with ``strict=False`` and only logs what
it skipped, so a wrong prefix silently leaves a backbone at random init. The
exporters here compare every key and shape against the model the file is
meant for and refuse to produce a partial file.

:func:`to_target` exports for the backbone of a downstream config (MMPretrain
fine-tuning, MMDetection, MMSegmentation): the config's ``model.backbone`` is
built with MMPretrain's registry, ``pos_embed`` is resampled to its patch
grid, and :func:`roundtrip_check` proves that the written file, loaded the
way the config loads it, reproduces every tensor.
"""
import copy
import math
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch

from mmeff.errors import MMEffError


class ExportError(MMEffError, ValueError):
    """A checkpoint cannot be exported completely."""


@dataclass
class Coverage:
    """How a state dict matches the keys a target model expects."""
    expected: int
    matched: int
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    shape_mismatch: List[str] = field(default_factory=list)
    #: target keys the checkpoint cannot hold by design, written with the
    #: target's own initial values (see :data:`NEW_BY_DESIGN`).
    fresh: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.missing or self.shape_mismatch)

    def summary(self) -> str:
        text = (f'{self.matched}/{self.expected} keys matched '
                f'({100.0 * self.matched / max(self.expected, 1):.1f}%), '
                f'missing {len(self.missing)}, shape mismatch '
                f'{len(self.shape_mismatch)}, unused {len(self.unexpected)}')
        if 0 < len(self.unexpected) <= 4:
            text += f" ({', '.join(self.unexpected)})"
        if self.fresh:
            text += (f'; {len(self.fresh)} of them new by design, at the '
                     f"target's initial values ({', '.join(self.fresh)})")
        return '; '.join([text] + self.notes)


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


_VIT_KEYS = ('pos_embed', 'patch_embed.projection.weight',
             'layers.0.ffn.layers.0.0.weight')


def check_vit_keys(backbone: Dict[str, torch.Tensor]):
    """Refuse a backbone without the ViT weights :func:`vit_arch` reads."""
    absent = [k for k in _VIT_KEYS if k not in backbone]
    if absent:
        raise ExportError(
            f'not a ViT backbone (no {absent[0]}; it has e.g. '
            f'{sorted(backbone)[:2]}); --format exports ViT encoders only, '
            'use --target-config for other backbones')


def vit_arch(backbone: Dict[str, torch.Tensor], num_heads: int):
    """ViT hyper-parameters read from the weights (heads must be given)."""
    check_vit_keys(backbone)
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


# Keys a pretraining checkpoint cannot provide, by out_type. MAE's
# fine-tuning with global pooling (He et al., 2022, main_finetune.py) drops
# the encoder's final norm and creates a new ``fc_norm``: in MMPretrain's
# VisionTransformer that is ``ln2``, built only for out_type='avg_featmap'.
NEW_BY_DESIGN = {'avg_featmap': ('ln2.weight', 'ln2.bias')}


def load_target_config(config):
    """A downstream config (path or Config) with its custom imports done."""
    from mmengine.config import Config
    if isinstance(config, Config):
        return config
    try:
        return Config.fromfile(config)
    except FileNotFoundError as err:
        raise ExportError(f'target config not found: {config}') from err
    except Exception as err:  # syntax, inheritance or import errors
        raise ExportError(f'{config}: cannot be parsed '
                          f'({type(err).__name__}: {err})') from err


def target_backbone_cfg(config) -> dict:
    """``model.backbone`` of a config as a plain dict, ``init_cfg`` removed."""
    cfg = load_target_config(config)
    backbone = cfg.get('model', {}).get('backbone')
    if not backbone:
        raise ExportError(f'{getattr(cfg, "filename", config)}: no '
                          'model.backbone')
    backbone = copy.deepcopy(backbone.to_dict() if hasattr(backbone, 'to_dict')
                             else dict(backbone))
    backbone.pop('init_cfg', None)
    return backbone


def build_backbone(backbone_cfg: dict):
    """Build a backbone dict with MMPretrain's registry (any scope prefix)."""
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    cfg = copy.deepcopy(backbone_cfg)
    kind = cfg.get('type')
    if isinstance(kind, str) and '.' in kind and \
            not kind.startswith('mmpretrain.'):
        raise ExportError(f'backbone type {kind!r} is not an MMPretrain '
                          'model; the exporter writes MMPretrain weights')
    # MMDetection/MMSegmentation configs reach MMPretrain through the
    # `mmpretrain.` prefix; resolve every name in MMPretrain's scope.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        try:
            return MODELS.build(cfg)
        except Exception as err:
            raise ExportError(f'cannot build the target backbone {kind!r} '
                              f'({type(err).__name__}: {err})') from err


def _grid(tokens: int, what: str) -> Tuple[int, int]:
    side = math.isqrt(tokens)
    if side * side != tokens:
        raise ExportError(f'{what}: {tokens} patch tokens is not a square '
                          'grid; cannot resample pos_embed')
    return side, side


def resample_pos_embed(pos_embed, src_extra: int, dst_grid, dst_extra: int,
                       mode: str = 'bicubic'):
    """``[1, src_extra + h*w, C]`` -> ``[1, dst_extra + H*W, C]``.

    The patch part is resampled on its 2-D grid (bicubic by default, as
    MMPretrain's ``resize_pos_embed`` and MAE/ViTDet do); the embeddings of
    the extra (class) tokens are kept, or dropped if the target has none.
    """
    from mmpretrain.models.utils import resize_pos_embed
    if dst_extra > src_extra:
        raise ExportError(f'the target has {dst_extra} extra tokens, the '
                          f'checkpoint {src_extra}')
    src_grid = _grid(pos_embed.shape[1] - src_extra, 'checkpoint pos_embed')
    out = resize_pos_embed(pos_embed, src_grid, tuple(dst_grid), mode,
                           src_extra)
    return out[:, src_extra - dst_extra:].to(pos_embed.dtype).contiguous()


def to_target(backbone: Dict[str, torch.Tensor], model,
              new_by_design: Optional[Tuple[str, ...]] = None):
    """``backbone.``-prefixed weights for a built target ``model``.

    ``pos_embed`` is resampled to the target's patch grid; keys in
    ``new_by_design`` (default: :data:`NEW_BY_DESIGN` for the model's
    ``out_type``) that the checkpoint lacks take the target's initial values.
    Every other target key must come from ``backbone`` with its shape.

    Returns:
        tuple: (state dict with the ``backbone.`` prefix, :class:`Coverage`).
    """
    target = model.state_dict()
    state = dict(backbone)
    notes = []
    if 'pos_embed' in state and 'pos_embed' in target and \
            state['pos_embed'].shape != target['pos_embed'].shape:
        src = state['pos_embed']
        src_extra = 1 if 'cls_token' in state else 0
        dst_extra = int(getattr(model, 'num_extra_tokens', 0)) \
            if getattr(model, 'cls_token', None) is not None else 0
        dst_grid = tuple(model.patch_resolution)
        state['pos_embed'] = resample_pos_embed(
            src, src_extra, dst_grid, dst_extra,
            getattr(model, 'interpolate_mode', 'bicubic'))
        src_grid = _grid(src.shape[1] - src_extra, 'checkpoint pos_embed')
        notes.append(f'pos_embed resampled {src_grid[0]}x{src_grid[1]} -> '
                     f'{dst_grid[0]}x{dst_grid[1]} '
                     f"({getattr(model, 'interpolate_mode', 'bicubic')})")
    if new_by_design is None:
        new_by_design = NEW_BY_DESIGN.get(getattr(model, 'out_type', None),
                                          ())
    fresh = [k for k in new_by_design if k in target and k not in state]
    for key in fresh:
        state[key] = target[key].detach().clone()
    coverage = check_coverage(state, target)
    coverage.fresh, coverage.notes = fresh, notes
    require_complete(coverage, f'target {type(model).__name__}')
    return {f'backbone.{k}': state[k] for k in target}, coverage


def roundtrip_check(backbone_cfg: dict, path: str,
                    prefix: str = 'backbone.') -> int:
    """Load ``path`` the way a config does and compare every tensor.

    Builds ``backbone_cfg`` with ``init_cfg=dict(type='Pretrained',
    checkpoint=path, prefix=prefix)``, runs ``init_weights()`` and checks
    that each tensor of the backbone's state dict equals the file's
    (``torch.equal``). Returns the number of tensors compared.

    Raises:
        ExportError: a tensor differs or is absent from the file.
    """
    from mmengine.logging import MMLogger
    cfg = dict(copy.deepcopy(backbone_cfg),
               init_cfg=dict(type='Pretrained', checkpoint=str(path),
                             prefix=prefix))
    model = build_backbone(cfg)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('WARNING')  # init_weights logs every tensor at INFO
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    saved = torch.load(path, map_location='cpu', weights_only=True)
    saved = saved.get('state_dict', saved)
    wrong = [k for k, v in model.state_dict().items()
             if prefix + k not in saved or
             not torch.equal(v, saved[prefix + k])]
    if wrong:
        raise ExportError(f'round trip through init_cfg Pretrained changed '
                          f'{len(wrong)} tensors, e.g. {wrong[:5]}')
    return len(model.state_dict())
