"""Layer-wise learning-rate decay for any model built around a ``backbone``."""
from collections import OrderedDict

from mmengine.logging import MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor

# MMEngine's root registry: MMDetection, MMSegmentation and MMPretrain
# registries are its children and search it, so the plain name resolves
# under default_scope 'mmdet', 'mmseg' and 'mmpretrain' alike.
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class BackboneLayerDecayOptimWrapperConstructor(
        DefaultOptimWrapperConstructor):
    """Layer-wise LR decay driven by ``model.backbone.get_layer_depth``.

    Layer-wise learning-rate decay (BEiT, Bao et al., ICLR 2022) is how
    masked-image-modelling encoders are transferred: fine-tuning in MAE (He
    et al., CVPR 2022) and detection in ViTDet (Li et al., ECCV 2022,
    "Exploring Plain Vision Transformer Backbones for Object Detection")
    lower the learning rate of each backbone block geometrically with its
    distance from the output. MMPretrain's
    ``LearningRateDecayOptimWrapperConstructor`` needs ``get_layer_depth`` on
    the model itself, which MMPretrain classifiers have and MMDetection
    detectors / MMSegmentation segmentors do not; MMDetection's and
    MMSegmentation's own layer-decay constructors recognise backbones by
    their class names and do not know MMPretrain's ``VisionTransformer``.
    This constructor asks the backbone, so it serves all three.

    For a parameter named ``backbone.<rest>`` the depth is
    ``layer_id, num_layers = model.backbone.get_layer_depth(name,
    'backbone.')``; every other parameter (neck, heads) is at the top depth
    ``num_layers - 1``. With ``decay_rate`` = ``layer_decay_rate`` the
    learning rate is, exactly as in MMPretrain's constructor::

        lr = base_lr * decay_rate ** (num_layers - 1 - layer_id)

    For MMPretrain's ``VisionTransformer`` with L blocks, ``num_layers`` is
    L + 2: depth 0 holds ``patch_embed``, ``cls_token`` and ``pos_embed``
    (scale ``decay_rate ** (L + 1)``), block i is at depth i + 1 (scale
    ``decay_rate ** (L - i)``), and the backbone's final norms, the neck and
    the heads are at depth L + 1 (scale 1). This is the numbering of MAE's
    ``param_groups_lrd`` (``num_layers = L + 1`` ids, scale
    ``decay ** (L + 1 - id)``).

    Weight decay follows MAE's fine-tuning: none for 1-D parameters (biases
    and norm weights) and for ``pos_embed`` / ``cls_token``.

    ``paramwise_cfg`` keys (all optional):

    - ``layer_decay_rate`` (float): the decay rate. Defaults to 1.0 (no
      decay). ViTDet uses 0.7 for ViT-B, MAE's ADE20K recipe 0.65.
    - ``flat_decay_mult`` (float): weight-decay multiplier of parameters
      with ``ndim <= 1``. Defaults to 0.
    - ``no_decay_names`` (Sequence[str]): parameters whose last name
      component is one of these get no weight decay. Defaults to
      ``('pos_embed', 'cls_token')``.
    - ``custom_keys`` (dict): ``{substring: dict(lr_mult=..,
      decay_mult=..)}``; the longest key contained in a parameter's name
      wins and overrides the rules above (``lr_mult`` multiplies the layer
      scale).

    Parameters with ``requires_grad=False`` are left out of the optimizer
    (as MMPretrain's constructor does). Parameters sharing depth and settings
    share one param group; each group records ``lr_scale``, ``layer_id`` and
    ``param_names``.

    Args:
        optim_wrapper_cfg (dict): as for MMEngine's
            ``DefaultOptimWrapperConstructor``.
        paramwise_cfg (dict, optional): the keys above.

    Raises:
        ValueError: the model has no ``backbone`` or the backbone has no
            ``get_layer_depth`` (the message names the model class), or
            ``paramwise_cfg`` holds a key this constructor does not use.
    """

    SUPPORTED_KEYS = ('layer_decay_rate', 'flat_decay_mult', 'no_decay_names',
                      'custom_keys')

    def __init__(self, optim_wrapper_cfg, paramwise_cfg=None):
        paramwise_cfg = dict(paramwise_cfg or {})
        unknown = sorted(set(paramwise_cfg) - set(self.SUPPORTED_KEYS))
        if unknown:
            # A silently ignored option (e.g. MMDetection's `decay_rate`)
            # would train with the wrong schedule.
            raise ValueError(
                f'{type(self).__name__}: unsupported paramwise_cfg keys '
                f'{unknown}; supported: {list(self.SUPPORTED_KEYS)}')
        # Non-empty, so MMEngine's __call__ goes through add_params.
        paramwise_cfg.setdefault('layer_decay_rate', 1.0)
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    @staticmethod
    def _depth_fn(model):
        backbone = getattr(model, 'backbone', None)
        if backbone is None:
            raise ValueError(
                f'layer-wise LR decay needs `model.backbone`; '
                f'{type(model).__name__} has none')
        if not callable(getattr(backbone, 'get_layer_depth', None)):
            raise ValueError(
                f'layer-wise LR decay needs `get_layer_depth` on the '
                f'backbone of {type(model).__name__}; '
                f'{type(backbone).__name__} has none (MMPretrain backbones '
                'such as VisionTransformer, ResNet and ConvNeXt have it)')
        return backbone.get_layer_depth

    def layer_depths(self, model):
        """``{param_name: (layer_id, num_layers)}`` for every parameter."""
        get_depth = self._depth_fn(model)
        names = [n for n, _ in model.named_parameters()]
        depths = {n: get_depth(n, 'backbone.') for n in names
                  if n.startswith('backbone.')}
        if not depths:
            raise ValueError(f'{type(model).__name__}.backbone has no '
                             'parameters to decay')
        num_layers = {n for _, n in depths.values()}
        if len(num_layers) != 1:
            raise ValueError(f'{type(model.backbone).__name__}.'
                             'get_layer_depth reports different layer '
                             f'counts: {sorted(num_layers)}')
        top = num_layers.pop()
        return {n: depths.get(n, (top - 1, top)) for n in names}

    def _settings(self, name, param):
        """(lr_mult, decay_mult) of one parameter, before layer decay."""
        cfg = self.paramwise_cfg
        custom = cfg.get('custom_keys', {})
        # Longest matching key first, ties alphabetical, as MMEngine does.
        for key in sorted(sorted(custom), key=len, reverse=True):
            if key in name:
                c = custom[key]
                return c.get('lr_mult', 1.), c.get('decay_mult', 1.)
        if name.rsplit('.', 1)[-1] in tuple(
                cfg.get('no_decay_names', ('pos_embed', 'cls_token'))):
            return 1., 0.
        if param.ndim <= 1:
            return 1., cfg.get('flat_decay_mult', 0.)
        return 1., 1.

    def add_params(self, params, module, prefix='', **kwargs):
        """Fill ``params`` with one group per (depth, lr, weight decay)."""
        depths = self.layer_depths(module)
        rate = self.paramwise_cfg['layer_decay_rate']
        groups = OrderedDict()
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            layer_id, num_layers = depths[name]
            lr_mult, decay_mult = self._settings(name, param)
            scale = rate**(num_layers - 1 - layer_id)
            key = (layer_id, lr_mult, decay_mult)
            if key not in groups:
                group = dict(params=[], lr=self.base_lr * scale * lr_mult,
                             lr_scale=scale * lr_mult, layer_id=layer_id,
                             param_names=[])
                if self.base_wd is not None:
                    group['weight_decay'] = self.base_wd * decay_mult
                groups[key] = group
            groups[key]['params'].append(param)
            groups[key]['param_names'].append(prefix + name)
        params.extend(groups.values())
        logger = MMLogger.get_current_instance()
        for group in groups.values():
            logger.debug(
                f"layer {group['layer_id']}: lr={group['lr']:.3g} "
                f"(scale {group['lr_scale']:.3g}), weight_decay="
                f"{group.get('weight_decay')}: "
                f"{', '.join(group['param_names'])}")
