"""EfficientTrain++'s curriculum as an MMEngine hook."""
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmeff.data.ops.low_frequency_crop import low_frequency_crop, resize_crop
from mmeff.engine.curricula import (EFFICIENTTRAIN_PRESETS, ScheduleError,
                                    cosine_lr_factor, efficienttrain_schedule,
                                    randaugment_magnitude)
from .pipeline_control import set_randaugment_magnitude
from .progressive_resolution_hook import _unwrap, patch_size_of


@HOOKS.register_module()
class EfficientTrainHook(Hook):
    """Low-frequency bandwidth and RandAugment ramps by compute fraction.

    EfficientTrain++ (Wang et al., "EfficientTrain++: Generalized Curriculum
    Learning for Efficient Visual Backbone Training", TPAMI 2024) shows the
    model only the low frequencies of each image early on: the loader keeps
    producing full-size crops, and on the batch the centred B x B block of
    the spectrum is kept and inverse-transformed to a B x B image
    (``crop_mode='fft'``, exact) or, as the released code does, the image is
    resized to B (``crop_mode='resize'``). B and the RandAugment magnitude
    (0 -> 9, one step per 10% of the budget) are functions of the fraction t
    of the compute budget. A stage at bandwidth B costs (B/R)^2 of a
    full-resolution epoch, so its epochs are stretched by (R/B)^2; the run's
    ``train_cfg.max_epochs`` must equal the stretched total (the hook tells
    you the number). The learning rate follows t (linear warm-up, cosine),
    not the epoch, so the hook owns it: configure no LR ``param_scheduler``.
    Everything is a function of (epoch, iteration), so ``--resume`` restores
    bandwidth, magnitude and LR. Logged: ``train/bandwidth``,
    ``train/randaug_magnitude``, ``train/compute_fraction``.

    Args:
        budget_epochs (float): compute budget in full-resolution epochs.
        full_size (int): R, the loader's output size.
        preset (str): 'swin', 'resnet', 'deit' or 'convnext' (bandwidths at
            224, scaled to ``full_size`` on the patch grid), or
        stages (list[tuple]): ``(begin_fraction, bandwidth)`` pairs.
        crop_mode (str): 'fft' (exact) or 'resize' (released code).
        max_magnitude (int): final RandAugment magnitude. Defaults to 9.
        warmup (float): LR warm-up as a fraction of the budget.
        min_lr_ratio (float): final LR / base LR.
    """

    priority = 'NORMAL'

    def __init__(self, budget_epochs, full_size, preset='swin', stages=None,
                 crop_mode='fft', max_magnitude=9, warmup=0.05,
                 min_lr_ratio=0.0):
        if crop_mode not in ('fft', 'resize'):
            raise ScheduleError(f"crop_mode={crop_mode!r}: 'fft' or 'resize'")
        if stages is None:
            if preset not in EFFICIENTTRAIN_PRESETS:
                raise ScheduleError(f'preset={preset!r}; choose from '
                                    f'{sorted(EFFICIENTTRAIN_PRESETS)}')
        self.preset, self.given_stages = preset, stages
        self.budget_epochs, self.full_size = budget_epochs, full_size
        self.crop = low_frequency_crop if crop_mode == 'fft' else resize_crop
        self.max_magnitude = max_magnitude
        self.warmup, self.min_lr_ratio = warmup, min_lr_ratio
        self.schedule = None
        self.bandwidth = full_size
        self._handle = None

    def build_schedule(self, patch_size=1):
        return efficienttrain_schedule(self.budget_epochs, self.full_size,
                                       self.preset, self.given_stages,
                                       patch_size)

    def before_train(self, runner):
        patch = patch_size_of(runner.model)
        self.schedule = self.build_schedule(patch)
        parts = getattr(_unwrap(runner.model).backbone, 'num_parts', 1)
        for _, size in self.schedule.stages:
            if (size // patch)**2 % parts:
                raise ScheduleError(
                    f'bandwidth {size} gives {(size // patch)**2} patches, '
                    f'not divisible by EMAE num_parts={parts}')
        if runner.max_epochs != self.schedule.total_epochs:
            raise ScheduleError(
                f'EfficientTrainHook: a budget of {self.budget_epochs} '
                f'full-resolution epochs with bandwidths '
                f'{[s for _, s in self.schedule.stages]} takes '
                f'{self.schedule.total_epochs} epochs; set '
                f'train_cfg.max_epochs={self.schedule.total_epochs}')
        lr_schedulers = [s for s in (runner.param_schedulers or [])
                         if getattr(s, 'param_name', 'lr') == 'lr']
        if lr_schedulers:
            raise ScheduleError('EfficientTrainHook sets the learning rate '
                                'from the compute fraction; remove the LR '
                                'param_scheduler from the config')
        for group in runner.optim_wrapper.param_groups:
            # Kept in the optimizer state, so a resumed run has it too.
            group.setdefault('initial_lr', group['lr'])
        preprocessor = _unwrap(runner.model).data_preprocessor
        self._handle = preprocessor.register_forward_hook(
            self._crop_batch, with_kwargs=True)

    def after_train(self, runner):
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _crop_batch(self, module, args, kwargs, output):
        training = kwargs.get('training', args[1] if len(args) > 1 else False)
        if not training or self.bandwidth >= self.full_size:
            return output
        inputs = output['inputs']
        if isinstance(inputs, (list, tuple)):
            output['inputs'] = [self.crop(x, self.bandwidth) for x in inputs]
        else:
            output['inputs'] = self.crop(inputs, self.bandwidth)
        return output

    def before_train_epoch(self, runner):
        self.bandwidth = self.schedule.bandwidth(runner.epoch)
        fraction = self.schedule.fraction(runner.epoch)
        self.magnitude = randaugment_magnitude(fraction, self.max_magnitude)
        if not set_randaugment_magnitude(runner.train_dataloader,
                                         self.magnitude) and runner.epoch == 0:
            runner.logger.info('EfficientTrainHook: no RandAugment in the '
                               'train pipeline; only the bandwidth ramps')

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        per_epoch = len(runner.train_dataloader)
        fraction = self.schedule.fraction(runner.epoch, batch_idx / per_epoch)
        factor = cosine_lr_factor(fraction, self.warmup, self.min_lr_ratio)
        for group in runner.optim_wrapper.param_groups:
            group['lr'] = group['initial_lr'] * factor
        hub = runner.message_hub
        hub.update_scalar('train/bandwidth', self.bandwidth)
        hub.update_scalar('train/randaug_magnitude', self.magnitude)
        hub.update_scalar('train/compute_fraction', fraction)
