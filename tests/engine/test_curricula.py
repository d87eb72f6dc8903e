"""Curriculum schedules as functions of epoch / compute fraction."""
import pytest

from mmeff.engine.curricula import (ComputeSchedule, ScheduleError, Stage,
                                    check_stages, cosine_lr_factor,
                                    randaugment_magnitude, ramp_stages,
                                    scale_sizes, stage_at)


def test_palindrome_boundaries_at_half_and_full_ramp_end():
    stages = ramp_stages((224, 192, 224), ramp_end=80)
    sizes = [stage_at(stages, e).size for e in (0, 39, 40, 79, 80, 99)]
    assert sizes == [224, 224, 192, 192, 224, 224]


def test_ramp_by_fraction():
    stages = ramp_stages((160, 192, 224), ramp_end=0.8)
    assert [stage_at(stages, t).size for t in (0, 0.39, 0.4, 0.79, 0.8)] == \
        [160, 160, 192, 192, 224]


@pytest.mark.parametrize('stages,message', [
    ([Stage(1, 224)], 'must begin at 0'),
    ([Stage(0, 224), Stage(5, 192), Stage(3, 224)], 'out of order'),
    ([Stage(0, 224), Stage(2, 200)], 'not a multiple of the patch size 16'),
    ([], 'empty'),
    ([Stage(0, 224), Stage(2, 192, 1.0)], r'mask_ratio=1.0 at begin 2 must'),
    ([Stage(0, 224, 0)], r'mask_ratio=0 at begin 0 must be in \(0, 1\)'),
])
def test_invalid_schedules_are_refused(stages, message):
    with pytest.raises(ScheduleError, match=message):
        check_stages(stages, multiple_of=16)


def test_randaugment_magnitude_steps_every_tenth():
    assert [randaugment_magnitude(t) for t in (0, 0.099, 0.1, 0.55, 0.9, 1.0)] == \
        [0, 0, 1, 5, 9, 9]


def test_compute_balanced_epochs_stretch_by_inverse_square():
    plan = ComputeSchedule(((0.0, 96), (0.2, 160), (0.6, 224)), 10, 224)
    # 0.2*10*(224/96)^2 = 10.9 -> 11; 0.4*10*(224/160)^2 = 7.84 -> 8; 0.4*10 -> 4
    assert plan.epochs_per_stage == [11, 8, 4]
    assert plan.total_epochs == 23
    assert plan.bandwidth(0) == 96 and plan.bandwidth(11) == 160
    assert plan.bandwidth(19) == 224 and plan.bandwidth(99) == 224
    assert plan.total_cost == pytest.approx(11 * (96 / 224)**2 + 8 * (160 / 224)**2 + 4)
    assert plan.fraction(0) == 0 and plan.fraction(23) == 1
    assert plan.fraction(11) == pytest.approx(11 * (96 / 224)**2 / plan.total_cost)
    assert plan.fraction(19) == pytest.approx(1 - 4 / plan.total_cost)
    halfway = plan.fraction(11, 0.5)
    assert plan.fraction(11) < halfway < plan.fraction(12)


def test_compute_schedule_validation():
    with pytest.raises(ScheduleError, match='exceeds the full resolution'):
        ComputeSchedule(((0.0, 256),), 10, 224)
    with pytest.raises(ScheduleError, match='fraction < 1'):
        ComputeSchedule(((0.0, 96), (1.0, 224)), 10, 224)


def test_lr_follows_warmup_then_cosine():
    assert cosine_lr_factor(0.0, warmup=0.1) == 0
    assert cosine_lr_factor(0.05, warmup=0.1) == pytest.approx(0.5)
    assert cosine_lr_factor(0.1, warmup=0.1) == pytest.approx(1.0)
    assert cosine_lr_factor(0.55, warmup=0.1) == pytest.approx(0.5)
    assert cosine_lr_factor(1.0, warmup=0.1, min_ratio=0.01) == pytest.approx(0.01)


def test_scale_sizes_to_small_resolutions_on_the_patch_grid():
    assert scale_sizes([96, 160, 224], 32, multiple_of=4) == [12, 24, 32]
    assert scale_sizes([224, 192, 224], 32, multiple_of=4) == [32, 28, 32]


def test_dailymae_presets_are_fastssl_schemes():
    """erow/FastSSL model/dres.py DEFAULT_SCHEME (res, mask_ratio) 1-6."""
    from mmeff.engine.curricula import DAILYMAE_PRESETS, DAILYMAE_RAMP_END
    assert DAILYMAE_PRESETS['dailymae_ramp_mask'] == (
        (160, 0.5), (192, 0.66), (224, 0.75))  # scheme 1
    assert [s for s, _ in DAILYMAE_PRESETS['dailymae_ramp']] == [160, 192,
                                                                224]  # 2
    assert [s for s, _ in DAILYMAE_PRESETS['dailymae_reverse']] == [224, 192,
                                                                   160]  # 3
    assert DAILYMAE_PRESETS['dailymae_ramp_mask_high'] == (
        (160, 0.75), (192, 0.8), (224, 0.85))  # scheme 4
    assert [s for s, _ in DAILYMAE_PRESETS['dailymae_palindrome']] == [
        224, 192, 224]  # scheme 5
    assert DAILYMAE_PRESETS['dailymae_palindrome_mask_high'] == (
        (224, 0.75), (192, 0.75), (224, 0.85))  # scheme 6
    # README: DynamicMasking.start_ramp=0 end_ramp=400 of 800 epochs.
    assert DAILYMAE_RAMP_END == 400 / 800


def test_ramp_with_mask_ratios_follows_fastssl_stage_index():
    from mmeff.engine.curricula import DAILYMAE_PRESETS
    stages = ramp_stages(DAILYMAE_PRESETS['dailymae_ramp_mask'], 400)
    # FastSSL: i = epoch * (3 - 1) // 400, last stage from epoch 400 on.
    for epoch in (0, 199, 200, 399, 400, 799):
        size, ratio = DAILYMAE_PRESETS['dailymae_ramp_mask'][
            min(2, epoch * 2 // 400)]
        assert (stage_at(stages, epoch).size,
                stage_at(stages, epoch).mask_ratio) == (size, ratio)
