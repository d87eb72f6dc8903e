"""DailyMAE's progressive resolution as an MMEngine hook."""
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmeff.engine.config import ConfigError
from mmeff.engine.curricula import (
    DAILYMAE_EPOCH_PRESETS,
    DAILYMAE_PRESETS,
    DAILYMAE_RAMP_END,
    ScheduleError,
    Stage,
    check_stages,
    ramp_stages,
    scale_sizes,
    stage_at,
)
from mmeff.engine.utils import unwrap_model
from mmeff.models.utils import patch_count

from .pipeline_control import set_output_size


class UpstreamViTSizes:
    """The input sizes MMPretrain's ``VisionTransformer`` accepts.

    Its forward resamples the position embedding to any patch grid, so a
    fine-tuning curriculum may resize it; it has no mask ratio to set.
    """

    def __init__(self, backbone):
        self.patch_size = backbone.patch_embed.projection.kernel_size[0]

    def check_input_size(self, size):
        return patch_count(size, self.patch_size)

    def check_mask_ratio_at(self, mask_ratio, size):
        raise ConfigError('VisionTransformer does not mask; a per-stage '
                          'mask_ratio needs a MAE backbone')


def curriculum_backbone(model):
    """The backbone a curriculum resizes; it declares the sizes it accepts.

    A backbone takes part by defining ``check_input_size(size)`` (raise on a
    size it cannot take, return the patch count), ``check_mask_ratio_at(
    ratio, size)`` and ``patch_size``, as
    :class:`~mmeff.models.VarResMAEViT` and :class:`~mmeff.models.EMAEViT`;
    MMPretrain's ``VisionTransformer`` (fine-tuning) through
    :class:`UpstreamViTSizes`.
    """
    from mmpretrain.models.backbones import VisionTransformer
    backbone = getattr(unwrap_model(model), 'backbone', None)
    if type(backbone) is VisionTransformer:
        return UpstreamViTSizes(backbone)
    if not hasattr(backbone, 'check_input_size'):
        raise ScheduleError(
            f'{type(backbone).__name__} does not declare which input sizes '
            'it accepts (check_input_size); a resolution curriculum needs a '
            "variable-resolution backbone such as type='VarResMAEViT'")
    return backbone


def check_stage(backbone, hook, index, size, mask_ratio=None, begin=None):
    """Raise one line naming the stage if the backbone refuses it."""
    try:
        backbone.check_input_size(size)
        if mask_ratio is not None:
            backbone.check_mask_ratio_at(mask_ratio, size)
    except ConfigError as err:
        raise ScheduleError(f'{hook}: stage {index} (begin={begin}, size='
                            f'{size}): {err}') from None


@HOOKS.register_module()
class ProgressiveResolutionHook(Hook):
    """Set the training resolution (and optionally mask ratio) per epoch.

    DailyMAE (Wu et al., "DailyMAE: Towards Pretraining Masked Autoencoders
    in One Day", 2024) trains MAE at lower resolution for part of the run and
    resamples the position embeddings; batch size and learning rate stay
    fixed. Before each epoch this hook sets the loader's output size (an ESSL
    loader's decoder, or the RandomResizedCrop/CenterCrop/Resize of a torch
    pipeline, restarting persistent workers) and the model follows through
    its variable-resolution position embeddings (``VarResMAEViT``,
    ``EMAEViT``). Stages are epochs (``by_epoch=True``) or fractions of the
    run. Every stage is checked against the backbone's
    ``check_input_size`` / ``check_mask_ratio_at`` in ``before_train``, so a
    bad stage fails at the start, not when it begins. The stage is a
    function of the epoch, so ``--resume`` restores it.
    The current resolution is logged as ``train/resolution``.

    Args:
        stages (list[dict]): ``dict(begin=..., size=..., mask_ratio=None)``.
        preset (str): a scheme of :data:`~mmeff.engine.curricula.
            DAILYMAE_PRESETS` (erow/FastSSL, model/dres.py), e.g.
            ``'dailymae_ramp'`` (160->192->224), ``'dailymae_palindrome'``
            (224->192->224) or ``'dailymae_ramp_mask'`` (160/0.5 -> 192/0.66
            -> 224/0.75, mask ratio per stage); or an epoch-based scheme
            of :data:`~mmeff.engine.curricula.DAILYMAE_EPOCH_PRESETS`
            (FastSSL configs/dres.gin), ``'dailymae_dres_ramp'`` (160 from
            epoch 0, 192 from 400, 224 from 800; sets ``by_epoch=True``).
        ramp_end (float): for presets, where the last size starts (epochs or
            fraction). Boundaries fall at ramp_end/2 and ramp_end. Defaults
            to 0.5, FastSSL's README example (the ramp ends at epoch 400 of
            800).
        scale_to (int, optional): scale a preset's sizes from 224 to this
            resolution (rounded to the patch grid), for small-image runs.
        by_epoch (bool): ``begin`` in epochs (True) or fractions (False).
    """

    priority = 'NORMAL'

    def __init__(self, stages=None, preset=None, ramp_end=DAILYMAE_RAMP_END,
                 scale_to=None, by_epoch=False):
        if (stages is None) == (preset is None):
            raise ScheduleError('give either stages or preset')
        if preset in DAILYMAE_EPOCH_PRESETS:
            self.stages = [Stage(b, s) for b, s in
                           DAILYMAE_EPOCH_PRESETS[preset]]
            by_epoch = True
        elif preset is not None:
            if preset not in DAILYMAE_PRESETS:
                raise ScheduleError(
                    f'preset={preset!r}; choose from '
                    f'{sorted({**DAILYMAE_PRESETS, **DAILYMAE_EPOCH_PRESETS})}')
            self.stages = ramp_stages(DAILYMAE_PRESETS[preset], ramp_end)
        else:
            self.stages = [Stage(float(s['begin']), int(s['size']),
                                 s.get('mask_ratio')) for s in stages]
        self.scale_to = scale_to
        self.by_epoch = by_epoch
        self.current = None

    def before_train(self, runner):
        backbone = curriculum_backbone(runner.model)
        if self.scale_to is not None:
            sizes = scale_sizes([s.size for s in self.stages], self.scale_to,
                                multiple_of=backbone.patch_size)
            self.stages = [Stage(s.begin, n, s.mask_ratio)
                           for s, n in zip(self.stages, sizes)]
            self.scale_to = None
        check_stages(self.stages)
        for i, stage in enumerate(self.stages):
            check_stage(backbone, type(self).__name__, i, stage.size,
                        stage.mask_ratio, stage.begin)
        if not self.by_epoch and self.stages[-1].begin >= 1:
            raise ScheduleError('with by_epoch=False, begins are fractions '
                                'of the run and must be < 1')

    def stage_for_epoch(self, epoch, max_epochs):
        position = epoch if self.by_epoch else epoch / max_epochs
        return stage_at(self.stages, position)

    def before_train_epoch(self, runner):
        stage = self.stage_for_epoch(runner.epoch, runner.max_epochs)
        if stage.size != getattr(self.current, 'size', None):
            set_output_size(runner.train_dataloader, stage.size)
        if stage.mask_ratio is not None:
            curriculum_backbone(runner.model).mask_ratio = stage.mask_ratio
        self.current = stage
        runner.message_hub.update_scalar('train/resolution', stage.size)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        # Logged per iteration so LoggerHook and TensorBoard show it.
        runner.message_hub.update_scalar('train/resolution', self.current.size)
