"""Curriculum schedules as functions of epoch / compute fraction."""
import pytest

from mmeff.engine.curricula import (
    DAILYMAE_EPOCH_PRESETS,
    EFFICIENTTRAIN_PRESETS,
    EFFICIENTTRAIN_REFERENCE_LR,
    ComputeSchedule,
    ScheduleError,
    Stage,
    check_stages,
    cosine_lr_factor,
    ramp_stages,
    randaugment_magnitude,
    scale_sizes,
    stage_at,
)
from mmeff.engine.hooks import EfficientTrainHook, ProgressiveResolutionHook


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
    ([], 'empty'),
    ([Stage(0, 224), Stage(2, 192, 1.0)], r'mask_ratio=1.0 at begin 2 must'),
    ([Stage(0, 224, 0)], r'mask_ratio=0 at begin 0 must be in \(0, 1\)'),
])
def test_invalid_schedules_are_refused(stages, message):
    with pytest.raises(ScheduleError, match=message):
        check_stages(stages)


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


def test_efficienttrain_presets_are_the_released_res_lists():
    """LeapLabTHU/EfficientTrain, _ET_pp_main_<model>.py: ``res_list`` over
    ten equal compute slices."""
    def slices(res_list):
        return tuple((i / 10, r) for i, r in enumerate(res_list)
                     if i == 0 or res_list[i - 1] != r)
    assert EFFICIENTTRAIN_PRESETS['deit'] == slices(
        [96] * 2 + [160] * 4 + [192] * 2 + [224] * 2)
    for name in ('swin', 'resnet'):
        assert EFFICIENTTRAIN_PRESETS[name] == slices(
            [96] * 2 + [160] * 4 + [224] * 4)
    assert EFFICIENTTRAIN_PRESETS['convnext'] == slices([160] * 6 + [224] * 4)
    assert EFFICIENTTRAIN_PRESETS['deit_mmeff'] == (
        (0.0, 96), (0.2, 160), (0.4, 192), (0.6, 224))
    assert EFFICIENTTRAIN_REFERENCE_LR == {
        'swin': dict(warmup_epochs=20, eta_min=1e-6),
        'resnet': dict(warmup_epochs=20, eta_min=1e-6),
        'convnext': dict(warmup_epochs=20, eta_min=1e-6),
        'deit': dict(warmup=0.2, eta_min=1e-6)}


def test_dailymae_epoch_presets_are_fastssl_dres_gin():
    """erow/FastSSL configs/dres.gin, DRES_SCHEME_1 (= 2) and 3."""
    assert DAILYMAE_EPOCH_PRESETS == {
        'dailymae_dres_ramp': ((0, 160), (400, 192), (800, 224)),
        'dailymae_dres_reverse': ((0, 224), (400, 192), (800, 160))}
    hook = ProgressiveResolutionHook(preset='dailymae_dres_ramp')
    assert hook.by_epoch
    assert [hook.stage_for_epoch(e, 1000).size for e in (0, 399, 400, 799,
                                                         800)] == \
        [160, 160, 192, 192, 224]


TINY_VIT = dict(arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                          feedforward_channels=64), img_size=32, patch_size=8)


def _run_with(backbone):
    from types import SimpleNamespace

    import torch
    from mmpretrain.registry import MODELS
    model = torch.nn.Module()
    model.backbone = MODELS.build(dict(TINY_VIT, type=backbone))
    return SimpleNamespace(model=model, max_epochs=10, param_schedulers=[])


def test_backbones_declare_the_input_sizes_they_accept():
    run = _run_with('VarResMAEViT')
    assert run.model.backbone.check_input_size(24) == 9
    assert run.model.backbone.check_input_size((16, 32)) == 8
    with pytest.raises(ValueError, match='20x20 is not a multiple of '
                       'patch_size=8'):
        run.model.backbone.check_input_size(20)
    emae = _run_with('EMAEViT').model.backbone
    assert emae.check_input_size(16) == 4
    with pytest.raises(ValueError, match='does not divide the 9 patches'):
        emae.check_input_size(24)


def test_emae_palindrome_at_32_px_names_the_sizes_and_parts_that_fit():
    from mmpretrain.registry import MODELS
    run = _run_with('EMAEViT')
    run.model.backbone = MODELS.build(dict(TINY_VIT, type='EMAEViT',
                                           patch_size=4))
    hook = ProgressiveResolutionHook(preset='dailymae_palindrome',
                                     ramp_end=0.8, scale_to=32)
    with pytest.raises(ScheduleError) as err:
        hook.before_train(run)
    # 224 -> 192 -> 224 scaled to 32 px is 32 -> 28 -> 32: 7x7 patches.
    assert str(err.value) == (
        'ProgressiveResolutionHook: stage 1 (begin=0.4, size=28): '
        'num_parts=4 does not divide the 49 patches of the input (28x28 px, '
        'patch_size=4); input sizes near it that num_parts divides: '
        '16, 24, 32, 40; or num_parts in [7, 49] for this size')


@pytest.mark.parametrize('backbone,stages,message', [
    ('VarResMAEViT', [(0, 32), (0.5, 20)],
     r'stage 1 \(begin=0.5, size=20\): input size 20x20 is not a multiple'),
    ('EMAEViT', [(0, 32), (0.4, 24), (0.8, 32)],
     r'stage 1 \(begin=0.4, size=24\): num_parts=4 does not divide'),
    ('VarResMAEViT', [(0, 32, 0.75), (0.5, 8, 0.5)],
     r'stage 1 \(begin=0.5, size=8\): mask_ratio=0.5 keeps 0 of 1'),
    ('EMAEViT', [(0, 32, 0.75)], r'stage 0 .*EMAE fixes the mask ratio'),
])
def test_every_resolution_stage_is_checked_before_training(backbone, stages,
                                                           message):
    hook = ProgressiveResolutionHook(stages=[
        dict(begin=s[0], size=s[1], mask_ratio=(s + (None, ))[2])
        for s in stages])
    with pytest.raises(ScheduleError, match='ProgressiveResolutionHook: '
                       + message):
        hook.before_train(_run_with(backbone))


def test_every_bandwidth_is_checked_before_training():
    hook = EfficientTrainHook(budget_epochs=3, full_size=32,
                              stages=[(0.0, 16), (0.2, 24), (0.6, 32)])
    with pytest.raises(ScheduleError, match=r'EfficientTrainHook: stage 1 '
                       r'\(begin=0.2, size=24\): num_parts=4 does not'):
        hook.before_train(_run_with('EMAEViT'))
