"""EfficientTrain++'s learning rate as an MMEngine parameter scheduler."""
from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmpretrain.registry import PARAM_SCHEDULERS

from mmeff.engine.curricula import (
    EFFICIENTTRAIN_REFERENCE_LR,
    ScheduleError,
    cosine_lr_factor,
    efficienttrain_schedule,
)


@PARAM_SCHEDULERS.register_module()
class EfficientTrainLR(LRSchedulerMixin, _ParamScheduler):
    """Linear warm-up then cosine decay over the fraction of compute spent.

    EfficientTrain++ (Wang et al., TPAMI 2024) stretches low-bandwidth
    epochs by (R/B)^2, so its LR follows the fraction t of the compute
    budget, not the epoch: in the released code each bandwidth stage runs a
    cosine schedule over the whole stretched run at that bandwidth, which is
    a function of t. This scheduler builds the same
    :class:`~mmeff.engine.curricula.ComputeSchedule` as
    :class:`~mmeff.engine.hooks.EfficientTrainHook` (give both the same
    budget and stages; the hook checks it) and steps every iteration;
    ``--resume`` restores it from its state like any MMEngine scheduler.

    Args:
        optimizer: the wrapped optimizer (given by the Runner).
        budget_epochs, full_size, preset, stages, patch_size: the
            curriculum, as :func:`~mmeff.engine.curricula.
            efficienttrain_schedule`.
        warmup (float): warm-up as a fraction of the compute. Defaults to
            0.05.
        warmup_epochs (float, optional): warm-up in stretched epochs instead
            (the released code's ``--warmup_epochs``).
        eta_min (float, optional): final LR; else ``eta_min_ratio`` x base.
        eta_min_ratio (float): final LR / base LR. Defaults to 0.
        reference (bool): take warm-up and final LR from the released code
            for ``preset`` (:data:`~mmeff.engine.curricula.
            EFFICIENTTRAIN_REFERENCE_LR`: 20 stretched epochs, or 0.2 of the
            compute for DeiT; min LR 1e-6).
        epoch_length (int): iterations per epoch, given by the Runner with
            ``convert_to_iter_based=True`` (MMEngine passes it only then).
        end: ignored; the schedule spans the budget (the Runner fills in
            ``max_epochs``).
    """

    def __init__(self, optimizer, budget_epochs, full_size, preset='swin',
                 stages=None, patch_size=1, warmup=0.05, warmup_epochs=None,
                 eta_min=None, eta_min_ratio=0.0, reference=False,
                 epoch_length=None, end=None, last_step=-1, verbose=False):
        if not epoch_length:
            raise ScheduleError('EfficientTrainLR steps per iteration over '
                                'epochs of the curriculum; set '
                                'convert_to_iter_based=True in its config')
        self.schedule = efficienttrain_schedule(
            budget_epochs, full_size, preset, stages, patch_size)
        if reference:
            if stages is not None or preset not in EFFICIENTTRAIN_REFERENCE_LR:
                raise ScheduleError(
                    f'EfficientTrainLR: reference=True needs a preset of '
                    f'{sorted(EFFICIENTTRAIN_REFERENCE_LR)}, got '
                    f'preset={preset!r}, stages={stages}')
            ref = EFFICIENTTRAIN_REFERENCE_LR[preset]
            warmup, warmup_epochs = ref.get('warmup', 0.0), ref.get(
                'warmup_epochs')
            eta_min = ref['eta_min']
        if warmup_epochs is not None:
            warmup = self.schedule.fraction(int(warmup_epochs),
                                            warmup_epochs % 1)
        self.warmup, self.eta_min = warmup, eta_min
        self.eta_min_ratio = eta_min_ratio
        self.epoch_length = epoch_length
        super().__init__(optimizer, begin=0, end=INF,
                         last_step=last_step, by_epoch=False,
                         verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls, *args, epoch_length=None, by_epoch=True,
                              **kwargs):
        """How MMEngine builds it under ``convert_to_iter_based=True``."""
        return cls(*args, epoch_length=epoch_length, **kwargs)

    def state_dict(self):
        """Plain values only (checkpoints load with ``weights_only``); the
        schedule is rebuilt from the config."""
        state = super().state_dict()
        state.pop('schedule')
        return state

    def fraction(self, step):
        """Fraction of the compute spent at iteration ``step``."""
        epoch, batch = divmod(step, self.epoch_length)
        return self.schedule.fraction(epoch, batch / self.epoch_length)

    def _get_value(self):
        fraction = self.fraction(self.last_step)
        values = []
        for base in self.base_values:
            ratio = self.eta_min_ratio if self.eta_min is None \
                else self.eta_min / base
            values.append(base * cosine_lr_factor(fraction, self.warmup,
                                                  ratio))
        return values
