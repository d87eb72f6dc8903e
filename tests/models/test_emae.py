"""EMAE: parallel disjoint masks, self-consistency, loss, build-time checks."""
import itertools

import pytest
import torch

import mmeff  # noqa: F401
from mmeff.models import EMAE, SelfConsistencyLoss
from tests.models.emae_cfgs import build, emae_cfg


@pytest.mark.parametrize('num_parts', [2, 4, 8])
def test_parts_are_disjoint_cover_every_patch_with_exact_ratio(num_parts):
    model = build(emae_cfg(num_parts=num_parts))
    tokens = torch.randn(3, 64, 32)
    visible, mask, ids_restore = model.backbone.parallel_masking(tokens)
    mask = mask.view(num_parts, 3, 64)
    assert visible.shape == (num_parts * 3, 64 // num_parts, 32)
    # every patch visible in exactly one part
    assert torch.equal((1 - mask).sum(0), torch.ones(3, 64))
    # each part hides exactly 1 - 1/K of the patches
    hidden = 64 * (1 - 1 / num_parts)
    assert torch.equal(mask.sum(-1), torch.full((num_parts, 3), hidden))
    # the visible tokens are the input tokens at the unmasked positions
    keep = ids_restore.argsort(1)[:, :64 // num_parts]
    for row in range(num_parts * 3):
        part, image = divmod(row, 3)
        assert torch.equal(mask[part, image, keep[row]], torch.zeros(64 // num_parts))
        assert torch.equal(visible[row], tokens[image, keep[row]])


def test_mask_ratio_follows_num_parts():
    assert build(emae_cfg(num_parts=4)).backbone.mask_ratio == 0.75


def test_self_consistency_is_zero_for_identical_predictions():
    pred = torch.randn(1, 2, 64, 48).expand(4, -1, -1, -1).clone()
    mask = build(emae_cfg()).backbone.parallel_masking(torch.randn(2, 64, 8))[1]
    assert SelfConsistencyLoss()(pred, mask.view(4, 2, 64)).item() == 0.0


def test_self_consistency_value_and_stop_gradient_match_reference():
    torch.manual_seed(0)
    K, B, N, D = 3, 2, 12, 5
    pred = torch.randn(K, B, N, D, dtype=torch.float64, requires_grad=True)
    mask = (torch.rand(K, B, N) < 0.7).double()
    loss = SelfConsistencyLoss(average_over='shared')(pred, mask)
    loss.backward()

    # Reference: value sums both directions; the gradient of p_j comes only
    # from the terms where p_j is the live side, i.e. -sign(p_i - p_j).
    value, grad = 0.0, torch.zeros_like(pred)
    pairs = list(itertools.combinations(range(K), 2))
    for i, j in pairs:
        shared = mask[i] * mask[j]
        count = shared.sum()
        diff = (pred[i] - pred[j]).detach()
        value += 2 * (diff.abs().mean(-1) * shared).sum() / count
        g = torch.sign(diff) * shared[..., None] / (count * D)
        grad[i] += g
        grad[j] -= g
    assert loss.item() == pytest.approx(value.item() / len(pairs), rel=1e-12)
    torch.testing.assert_close(pred.grad, grad / len(pairs))


def test_all_patch_average_matches_the_public_reimplementation():
    """Mean over D and all N patches per image and pair (non-shared patches
    count as zero), then over the upper-triangle pairs and the batch."""
    torch.manual_seed(1)
    K, B, N, D = 4, 3, 16, 6
    pred = torch.randn(K, B, N, D, dtype=torch.float64)
    mask = (torch.rand(K, B, N) < 0.75).double()
    x_p, masks = pred.permute(1, 0, 2, 3), mask.permute(1, 0, 2)  # [B, K, ...]
    sij = masks[:, :, None] * masks[:, None]  # [B, K, K, N]
    per_pair = (2 * (x_p[:, :, None] - x_p[:, None]).abs()
                * sij[..., None]).mean(dim=(-1, -2))
    i, j = torch.triu_indices(K, K, offset=1)
    expected = per_pair[:, i, j].mean()
    loss = SelfConsistencyLoss(average_over='all')(pred, mask)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)


def test_all_patch_average_is_shared_average_times_k_minus_2_over_k():
    """K disjoint parts: each pair shares N(K-2)/K hidden patches."""
    model = build(emae_cfg())
    pred = torch.randn(4, 2, 64, 48, dtype=torch.float64)
    mask = model.backbone.parallel_masking(torch.randn(2, 64, 8))[1].double()
    mask = mask.view(4, 2, 64)
    shared = SelfConsistencyLoss(average_over='shared')(pred, mask)
    every = SelfConsistencyLoss(average_over='all')(pred, mask)
    assert every.item() == pytest.approx(0.5 * shared.item(), rel=1e-12)


def test_emae_loss_equals_independent_recomputation_from_parts():
    """Per part: encode its visible set, decode, MAE loss; then average."""
    model = build(emae_cfg(consistency_weight=0.5))
    model.eval()  # no dropout anyway; fixes BN-free behaviour explicitly
    inputs = torch.randn(2, 3, 32, 32)
    torch.manual_seed(7)
    losses = model.loss(inputs, None)
    torch.manual_seed(7)
    tokens, cls_token, _ = model.backbone.embed(inputs)
    _, mask, _ = model.backbone.parallel_masking(tokens)
    mask = mask.view(4, 2, 64)

    preds, recs = [], []
    for k in range(4):
        part_preds = []
        for b in range(2):
            hidden = mask[k, b].bool()
            order = torch.cat([(~hidden).nonzero()[:, 0], hidden.nonzero()[:, 0]])
            latent = model.backbone.encode(tokens[b:b + 1, order[:16]], cls_token)
            part_preds.append(model.neck(latent, order.argsort()[None]))
        pred_k = torch.cat(part_preds)
        preds.append(pred_k)
        recs.append(model.head.loss(pred_k, inputs, mask[k]))
    expected_rec = torch.stack(recs).mean()
    pred = torch.stack(preds).double()
    expected_sc = 0.0
    for i, j in itertools.combinations(range(4), 2):
        shared = (mask[i] * mask[j]).double()
        dist = (pred[i] - pred[j]).abs().mean(-1)
        expected_sc += 2 * (dist * shared).sum() / shared.numel()  # all patches
    expected_sc = 0.5 * expected_sc / 6

    torch.testing.assert_close(losses['loss_rec'], expected_rec, rtol=1e-5, atol=1e-6)
    assert losses['loss_sc'].item() == pytest.approx(expected_sc.item(), rel=1e-5)


def test_chunked_parts_give_same_loss_and_gradients():
    full = build(emae_cfg())
    chunked = build(emae_cfg(part_chunks=2))
    chunked.load_state_dict(full.state_dict())
    inputs = torch.randn(2, 3, 32, 32)
    results = []
    for model in (full, chunked):
        torch.manual_seed(3)
        losses = model.loss(inputs, None)
        sum(losses.values()).backward()
        results.append((losses, {n: p.grad.clone() for n, p in model.named_parameters()
                                 if p.grad is not None}))
    (l1, g1), (l2, g2) = results
    for key in l1:
        torch.testing.assert_close(l1[key], l2[key], rtol=1e-5, atol=1e-6)
    assert g1.keys() == g2.keys()
    for name in g1:
        torch.testing.assert_close(g1[name], g2[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize('kwargs,message', [
    (dict(num_parts=1), 'at least 2 parts'),
    (dict(num_parts=3), 'does not divide the 64 patches'),
    (dict(img_size=30), 'not a multiple of patch_size=4'),
    (dict(part_chunks=3), 'part_chunks=3 must divide'),
    (dict(mask_ratio=0.5), 'conflicts with num_parts=4'),
])
def test_invalid_settings_fail_at_build_time(kwargs, message):
    cfg_kwargs = {k: v for k, v in kwargs.items()
                  if k not in ('part_chunks', 'mask_ratio')}
    model_kwargs = {k: v for k, v in kwargs.items() if k == 'part_chunks'}
    cfg = emae_cfg(**cfg_kwargs, **model_kwargs)
    if 'mask_ratio' in kwargs:
        cfg['backbone']['mask_ratio'] = kwargs['mask_ratio']
    if 'img_size' in kwargs:
        cfg['neck']['num_patches'] = 49
    with pytest.raises(ValueError, match=message):
        build(cfg)


@pytest.mark.parametrize('ratio', [None, 0.75])
def test_mask_ratio_none_or_equal_to_one_minus_one_over_k_builds(ratio):
    cfg = emae_cfg()
    cfg['backbone']['mask_ratio'] = ratio
    assert build(cfg).backbone.mask_ratio == 0.75


def test_emae_refuses_a_plain_mae_backbone():
    cfg = emae_cfg()
    cfg['backbone']['type'] = 'VarResMAEViT'
    cfg['backbone'].pop('num_parts')
    with pytest.raises(ValueError, match="type='EMAEViT'"):
        build(cfg)


def test_registered_in_mmpretrain():
    from mmpretrain.registry import MODELS
    assert MODELS.get('EMAE') is EMAE


def test_num_parts_error_lists_the_input_sizes_and_parts_that_fit():
    with pytest.raises(ValueError) as err:
        build(emae_cfg(num_parts=3))
    assert str(err.value) == (
        'num_parts=3 does not divide the 64 patches of the input (32x32 px, '
        'patch_size=4); input sizes near it that num_parts divides: '
        '12, 24, 36, 48; or num_parts in [2, 4, 8, 16, 32, 64] for this size')
