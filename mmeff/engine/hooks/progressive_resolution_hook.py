"""DailyMAE's progressive resolution as an MMEngine hook."""
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmeff.engine.curricula import (DAILYMAE_PRESETS, DAILYMAE_RAMP_END,
                                    ScheduleError, Stage, check_stages,
                                    ramp_stages, scale_sizes, stage_at)
from mmeff.models.backbones.var_res_mae_vit import check_mask_ratio
from .pipeline_control import set_output_size


def _unwrap(model):
    return model.module if hasattr(model, 'module') else model


def patch_size_of(model):
    backbone = getattr(_unwrap(model), 'backbone', None)
    size = getattr(backbone, 'patch_size', None)
    if size is None and hasattr(backbone, 'patch_embed'):
        size = backbone.patch_embed.projection.kernel_size[0]
    return size or 1


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
    run. The stage is a function of the epoch, so ``--resume`` restores it.
    The current resolution is logged as ``train/resolution``.

    Args:
        stages (list[dict]): ``dict(begin=..., size=..., mask_ratio=None)``.
        preset (str): a scheme of :data:`~mmeff.engine.curricula.
            DAILYMAE_PRESETS` (erow/FastSSL, model/dres.py), e.g.
            ``'dailymae_ramp'`` (160->192->224), ``'dailymae_palindrome'``
            (224->192->224) or ``'dailymae_ramp_mask'`` (160/0.5 -> 192/0.66
            -> 224/0.75, mask ratio per stage).
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
        if preset is not None:
            if preset not in DAILYMAE_PRESETS:
                raise ScheduleError(f'preset={preset!r}; choose from '
                                    f'{sorted(DAILYMAE_PRESETS)}')
            self.stages = ramp_stages(DAILYMAE_PRESETS[preset], ramp_end)
        else:
            self.stages = [Stage(float(s['begin']), int(s['size']),
                                 s.get('mask_ratio')) for s in stages]
        self.scale_to = scale_to
        self.by_epoch = by_epoch
        self.current = None

    def before_train(self, runner):
        patch = patch_size_of(runner.model)
        if self.scale_to is not None:
            sizes = scale_sizes([s.size for s in self.stages], self.scale_to,
                                multiple_of=patch)
            self.stages = [Stage(s.begin, n, s.mask_ratio)
                           for s, n in zip(self.stages, sizes)]
            self.scale_to = None
        check_stages(self.stages, patch)
        backbone = getattr(_unwrap(runner.model), 'backbone', None)
        if any(s.mask_ratio is not None for s in self.stages) and \
                hasattr(backbone, 'num_parts'):
            raise ScheduleError('EMAE fixes the mask ratio by num_parts; '
                                'remove mask_ratio from the stages')
        for stage in self.stages:
            if stage.mask_ratio is not None:
                check_mask_ratio(stage.mask_ratio, (stage.size // patch)**2)
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
            _unwrap(runner.model).backbone.mask_ratio = stage.mask_ratio
        self.current = stage
        runner.message_hub.update_scalar('train/resolution', stage.size)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        # Logged per iteration so LoggerHook and TensorBoard show it.
        runner.message_hub.update_scalar('train/resolution', self.current.size)
