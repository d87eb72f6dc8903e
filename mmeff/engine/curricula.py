"""Resolution and augmentation schedules: pure functions of training progress.

DailyMAE (Wu et al., 2024) changes the input resolution by epoch; its
"palindrome" schedule goes 224 -> 192 -> 224 and its ramp 160 -> 192 -> 224,
with stage boundaries at E/2 and E for a ramp end E before the last epoch.
EfficientTrain++ (Wang et al., TPAMI 2024, arXiv:2405.08768) schedules the
low-frequency bandwidth B and the RandAugment magnitude as functions of the
fraction t of the compute budget; a stage at bandwidth B costs (B/R)^2 of a
full-resolution epoch, so its epochs are stretched by (R/B)^2.
"""
import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from mmeff.errors import MMEffError


class ScheduleError(MMEffError, ValueError):
    """A curriculum schedule is invalid."""


@dataclass(frozen=True)
class Stage:
    """From ``begin`` (epoch, or fraction of the run) on, train at ``size``."""
    begin: float
    size: int
    mask_ratio: Optional[float] = None


# DailyMAE's schemes as (size, mask ratio) per stage; None keeps the model's
# ratio. Source: erow/FastSSL, model/dres.py (DEFAULT_SCHEME, first commit,
# 577c285), schemes 1-6: 'dailymae_ramp' is scheme 2 (160/192/224 at 0.75),
# 'dailymae_palindrome' scheme 5, the others carry their mask ratios.
DAILYMAE_PRESETS = {
    'dailymae_ramp': ((160, None), (192, None), (224, None)),
    'dailymae_palindrome': ((224, None), (192, None), (224, None)),
    'dailymae_ramp_mask': ((160, 0.5), (192, 0.66), (224, 0.75)),  # 1
    'dailymae_reverse': ((224, None), (192, None), (160, None)),  # 3
    'dailymae_ramp_mask_high': ((160, 0.75), (192, 0.8), (224, 0.85)),  # 4
    'dailymae_palindrome_mask_high': (
        (224, 0.75), (192, 0.75), (224, 0.85)),  # 6
}
# FastSSL's README example ramps over the first 400 of 800 epochs
# (DynamicMasking.start_ramp=0, end_ramp=400, scheme=1).
DAILYMAE_RAMP_END = 0.5
# FastSSL's epoch-based DynamicResolution schemes as (begin epoch, size).
# Source: erow/FastSSL, configs/dres.gin (DRES_SCHEME_1/2 and 3, commit
# b7ae38e): a size applies from the epoch equal to its "epoch" on, so in an
# 800-epoch run the last stage never starts.
DAILYMAE_EPOCH_PRESETS = {
    'dailymae_dres_ramp': ((0, 160), (400, 192), (800, 224)),
    'dailymae_dres_reverse': ((0, 224), (400, 192), (800, 160)),
}


def ramp_stages(sizes: Sequence, ramp_end: float):
    """``sizes[:-1]`` share ``[0, ramp_end)`` evenly; the last holds after.

    ``sizes`` are ints or ``(size, mask_ratio)`` pairs. For three sizes the
    boundaries are ``ramp_end/2`` and ``ramp_end``, as FastSSL's
    ``DynamicMasking.get_config`` (stage ``i = epoch * (n - 1) // end``).
    """
    if len(sizes) < 2:
        raise ScheduleError('a ramp needs at least two sizes')
    step = ramp_end / (len(sizes) - 1)
    pairs = [s if isinstance(s, (tuple, list)) else (s, None) for s in sizes]
    return [Stage(i * step, size, ratio)
            for i, (size, ratio) in enumerate(pairs)]


def check_stages(stages, field='stages'):
    if not stages:
        raise ScheduleError(f'{field}: empty schedule')
    if stages[0].begin != 0:
        raise ScheduleError(f'{field}: the first stage must begin at 0, '
                            f'got {stages[0].begin}')
    for prev, cur in zip(stages, stages[1:]):
        if cur.begin <= prev.begin:
            raise ScheduleError(f'{field}: stages out of order ({prev.begin} '
                                f'then {cur.begin}); begins must increase')
    for stage in stages:
        if stage.mask_ratio is not None and not 0 < stage.mask_ratio < 1:
            raise ScheduleError(
                f'{field}: mask_ratio={stage.mask_ratio} at begin '
                f'{stage.begin} must be in (0, 1), e.g. 0.75')
    return stages


def stage_at(stages, position: float) -> Stage:
    """The stage in force at ``position`` (epoch or fraction)."""
    current = stages[0]
    for stage in stages:
        if position + 1e-9 >= stage.begin:
            current = stage
    return current


# Bandwidth stages as (begin fraction of compute, B at 224). Source:
# LeapLabTHU/EfficientTrain, _ET_pp_main_<model>.py (``res_list``, ten equal
# compute slices): Swin/CSWin/ResNet 96 x2, 160 x4, 224 x4; DeiT 96 x2,
# 160 x4, 192 x2, 224 x2; ConvNeXt 160 x6, 224 x4. 'deit_mmeff' is mmeff's
# own earlier DeiT choice (192 from 0.4, 224 from 0.6), kept by name.
EFFICIENTTRAIN_PRESETS = {
    'swin': ((0.0, 96), (0.2, 160), (0.6, 224)),
    'resnet': ((0.0, 96), (0.2, 160), (0.6, 224)),
    'deit': ((0.0, 96), (0.2, 160), (0.6, 192), (0.8, 224)),
    'deit_mmeff': ((0.0, 96), (0.2, 160), (0.4, 192), (0.6, 224)),
    'convnext': ((0.0, 160), (0.6, 224)),
}
# The released LR schedule (same files, and main_buffer.py's defaults):
# cosine to min_lr 1e-6 after a linear warm-up of 20 epochs of the stretched
# run (``--warmup_epochs 20``), except DeiT, whose warm-up is 0.2 of the
# stretched run (``0.2 * epoch * epoch_scale_ratio``), i.e. 0.2 of the
# compute. mmeff's configs keep their own warm-up fraction and a final LR of
# 0 unless ``EfficientTrainLR(reference=True)``.
EFFICIENTTRAIN_REFERENCE_LR = {
    'swin': dict(warmup_epochs=20, eta_min=1e-6),
    'resnet': dict(warmup_epochs=20, eta_min=1e-6),
    'deit': dict(warmup=0.2, eta_min=1e-6),
    'convnext': dict(warmup_epochs=20, eta_min=1e-6),
}


def randaugment_magnitude(fraction: float, max_magnitude: int = 9) -> int:
    """0 -> 9, one step per 10% of the compute budget (EfficientTrain++)."""
    return min(max_magnitude, int(math.floor(10 * fraction + 1e-9)))


@dataclass(frozen=True)
class ComputeSchedule:
    """Epoch-level plan of a compute-balanced bandwidth curriculum.

    Args:
        stages: ``(begin_fraction, bandwidth)`` pairs.
        budget_epochs: the compute budget in full-resolution epochs.
        full_size: the resolution R that costs one epoch per epoch.
    """
    stages: Tuple[Tuple[float, int], ...]
    budget_epochs: float
    full_size: int

    def __post_init__(self):
        check_stages([Stage(b, s) for b, s in self.stages],
                     field='bandwidth stages')
        if self.stages[-1][0] >= 1:
            raise ScheduleError('bandwidth stages must begin before the end '
                                'of the budget (fraction < 1)')
        for _, size in self.stages:
            if size > self.full_size:
                raise ScheduleError(f'bandwidth {size} exceeds the full '
                                    f'resolution {self.full_size}')

    def cost(self, size):
        """Compute of one epoch at ``size``, in full-resolution epochs."""
        return (size / self.full_size)**2

    @property
    def epochs_per_stage(self):
        ends = [b for b, _ in self.stages[1:]] + [1.0]
        return [max(1, round((end - begin) * self.budget_epochs /
                             self.cost(size)))
                for (begin, size), end in zip(self.stages, ends)]

    @property
    def bandwidth_per_epoch(self):
        return [size for (_, size), n in zip(self.stages, self.epochs_per_stage)
                for _ in range(n)]

    @property
    def total_epochs(self):
        return sum(self.epochs_per_stage)

    @property
    def total_cost(self):
        return sum(self.cost(b) for b in self.bandwidth_per_epoch)

    def fraction(self, epoch: int, progress_in_epoch: float = 0.0) -> float:
        """Fraction of the (rounded) compute spent at a point of the run."""
        sizes = self.bandwidth_per_epoch
        done = sum(self.cost(b) for b in sizes[:epoch])
        if epoch < len(sizes):
            done += progress_in_epoch * self.cost(sizes[epoch])
        return min(1.0, done / self.total_cost)

    def bandwidth(self, epoch: int) -> int:
        sizes = self.bandwidth_per_epoch
        return sizes[min(epoch, len(sizes) - 1)]


def efficienttrain_schedule(budget_epochs, full_size, preset='swin',
                            stages=None, patch_size=1):
    """The :class:`ComputeSchedule` of an EfficientTrain++ curriculum.

    ``stages`` (``(begin_fraction, bandwidth)`` pairs) as given, or the
    ``preset``'s bandwidths at 224 scaled to ``full_size`` on the patch grid.
    Configs call it to derive ``train_cfg.max_epochs``
    (``.total_epochs``); :class:`~mmeff.engine.hooks.EfficientTrainHook`
    builds the same schedule.
    """
    if stages is not None:
        stages = tuple((float(b), int(s)) for b, s in stages)
    else:
        if preset not in EFFICIENTTRAIN_PRESETS:
            raise ScheduleError(f'preset={preset!r}; choose from '
                                f'{sorted(EFFICIENTTRAIN_PRESETS)}')
        begins, sizes = zip(*EFFICIENTTRAIN_PRESETS[preset])
        sizes = scale_sizes(sizes, full_size, multiple_of=patch_size)
        stages = tuple(zip(begins, sizes))
    for _, size in stages:
        if size % patch_size:
            raise ScheduleError(f'bandwidth {size} is not a multiple of '
                                f'the patch size {patch_size}')
    return ComputeSchedule(stages, budget_epochs, full_size)


def scale_sizes(sizes, full_size, reference=224, multiple_of=1):
    """Scale published sizes (at 224) to another resolution, on a grid."""
    return [max(multiple_of, int(round(s * full_size / reference /
                                       multiple_of)) * multiple_of)
            for s in sizes]


def cosine_lr_factor(fraction, warmup=0.0, min_ratio=0.0):
    """Linear warm-up then cosine decay, as a function of a fraction."""
    if warmup > 0 and fraction < warmup:
        return fraction / warmup
    progress = (fraction - warmup) / max(1e-12, 1 - warmup)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
