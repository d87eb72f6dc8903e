"""EfficientTrain++'s curriculum as an MMEngine hook."""
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmeff.data.ops.low_frequency_crop import (
    lanczos_resize,
    low_frequency_crop,
    resize_crop,
)
from mmeff.engine.curricula import (
    EFFICIENTTRAIN_PRESETS,
    ScheduleError,
    efficienttrain_schedule,
    randaugment_magnitude,
)
from mmeff.engine.schedulers import EfficientTrainLR
from mmeff.engine.utils import unwrap_model

from .pipeline_control import set_randaugment_magnitude
from .progressive_resolution_hook import check_stage, curriculum_backbone

CROPS = dict(fft=low_frequency_crop, resize=resize_crop,
             lanczos=lanczos_resize)


@HOOKS.register_module()
class EfficientTrainHook(Hook):
    """Low-frequency bandwidth and RandAugment ramps by compute fraction.

    EfficientTrain++ (Wang et al., "EfficientTrain++: Generalized Curriculum
    Learning for Efficient Visual Backbone Training", TPAMI 2024) shows the
    model only the low frequencies of each image early on: the loader keeps
    producing full-size crops, and on the batch the centred B x B block of
    the spectrum is kept and inverse-transformed to a B x B image
    (``crop_mode='fft'``, exact), or the image is resized to B:
    ``crop_mode='lanczos'`` is the released code's "resize" mode (Lanczos,
    LeapLabTHU/EfficientTrain datasets_buffer.py, inserted after
    RandAugment; here on the float batch, so no 8-bit rounding), and
    ``'resize'`` is mmeff's own cheaper bicubic with antialias on the batch.
    B and the RandAugment magnitude
    (0 -> 9, one step per 10% of the budget) are functions of the fraction t
    of the compute budget. A stage at bandwidth B costs (B/R)^2 of a
    full-resolution epoch, so its epochs are stretched by (R/B)^2; the run's
    ``train_cfg.max_epochs`` must equal the stretched total (the hook tells
    you the number). The learning rate follows t too: the run's one LR
    ``param_scheduler`` must be :class:`~mmeff.engine.schedulers.
    EfficientTrainLR` over the same budget and stages (checked in
    ``before_train``, as is every bandwidth against the backbone's
    ``check_input_size``). Everything is a function of (epoch, iteration),
    so ``--resume`` restores bandwidth and magnitude. Logged: ``train/bandwidth``,
    ``train/randaug_magnitude``, ``train/compute_fraction``.

    Args:
        budget_epochs (float): compute budget in full-resolution epochs.
        full_size (int): R, the loader's output size.
        preset (str): a key of :data:`~mmeff.engine.curricula.
            EFFICIENTTRAIN_PRESETS` (bandwidths at 224, scaled to
            ``full_size`` on the patch grid), or
        stages (list[tuple]): ``(begin_fraction, bandwidth)`` pairs.
        crop_mode (str): 'fft' (exact), 'lanczos' (released code) or
            'resize' (bicubic, mmeff's).
        max_magnitude (int): final RandAugment magnitude. Defaults to 9.
    """

    priority = 'NORMAL'

    def __init__(self, budget_epochs, full_size, preset='swin', stages=None,
                 crop_mode='fft', max_magnitude=9):
        if crop_mode not in CROPS:
            raise ScheduleError(f'crop_mode={crop_mode!r}: choose from '
                                f'{sorted(CROPS)}')
        if stages is None:
            if preset not in EFFICIENTTRAIN_PRESETS:
                raise ScheduleError(f'preset={preset!r}; choose from '
                                    f'{sorted(EFFICIENTTRAIN_PRESETS)}')
        self.preset, self.given_stages = preset, stages
        self.budget_epochs, self.full_size = budget_epochs, full_size
        self.crop = CROPS[crop_mode]
        self.max_magnitude = max_magnitude
        self.schedule = None
        self.bandwidth = full_size
        self._handle = None

    def build_schedule(self, patch_size=1):
        return efficienttrain_schedule(self.budget_epochs, self.full_size,
                                       self.preset, self.given_stages,
                                       patch_size)

    def before_train(self, runner):
        backbone = curriculum_backbone(runner.model)
        self.schedule = self.build_schedule(backbone.patch_size)
        for i, (begin, size) in enumerate(self.schedule.stages):
            check_stage(backbone, type(self).__name__, i, size, begin=begin)
        if runner.max_epochs != self.schedule.total_epochs:
            raise ScheduleError(
                f'EfficientTrainHook: a budget of {self.budget_epochs} '
                f'full-resolution epochs with bandwidths '
                f'{[s for _, s in self.schedule.stages]} takes '
                f'{self.schedule.total_epochs} epochs; set '
                f'train_cfg.max_epochs={self.schedule.total_epochs}')
        self.check_lr_scheduler(runner.param_schedulers)
        preprocessor = unwrap_model(runner.model).data_preprocessor
        self._handle = preprocessor.register_forward_hook(
            self._crop_batch, with_kwargs=True)

    def check_lr_scheduler(self, schedulers):
        """The run's LR must follow this curriculum's compute fraction."""
        lr = [s for s in schedulers or [] if s.param_name == 'lr']
        if len(lr) != 1 or not isinstance(lr[0], EfficientTrainLR):
            raise ScheduleError(
                'EfficientTrainHook: the LR follows the compute fraction; '
                "set param_scheduler=dict(type='EfficientTrainLR', "
                f'budget_epochs={self.budget_epochs}, full_size='
                f'{self.full_size}, ...) as the only LR scheduler, got '
                f'{[type(s).__name__ for s in lr]}')
        if lr[0].schedule != self.schedule:
            raise ScheduleError(
                'EfficientTrainHook: EfficientTrainLR plans '
                f'{lr[0].schedule.stages} over {lr[0].schedule.budget_epochs}'
                f' epochs, the hook {self.schedule.stages} over '
                f'{self.schedule.budget_epochs}; give both the same '
                'budget_epochs, full_size, preset/stages and patch_size')

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
        hub = runner.message_hub
        hub.update_scalar('train/bandwidth', self.bandwidth)
        hub.update_scalar('train/randaug_magnitude', self.magnitude)
        hub.update_scalar('train/compute_fraction', fraction)
