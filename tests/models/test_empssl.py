"""EMPSSL: projector, loss, bag of features, and the memory bound."""
import copy

import pytest
import torch
from mmpretrain.registry import MODELS

import mmeff  # noqa: F401
from mmeff.models import EMPSSLProjector
from mmeff.models.losses import mean_cosine_to_patch_mean, total_coding_rate


def empssl_cfg(width=4, norm='BN', **kwargs):
    """CIFAR ResNet-18 at a tiny width with a matching small projector."""
    norm_cfg = dict(type='BN') if norm == 'BN' else \
        dict(type='GN', num_groups=2)
    return dict(type='EMPSSL',
                backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=width,
                              stem_channels=width, norm_cfg=norm_cfg),
                neck=dict(type='EMPSSLProjector', in_channels=8 * width,
                          hid_channels=32, out_channels=16), **kwargs)


def build(cfg, seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def patches(n=4, b=3, size=8, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(b, 3, size, size, generator=gen) for _ in range(n)]


def total(losses):
    return sum(v for k, v in losses.items() if k.startswith('loss'))


def grads(model):
    return {k: p.grad.clone() for k, p in model.named_parameters()
            if p.grad is not None}


def test_paper_defaults():
    model = MODELS.build(dict(type='EMPSSL',
                              backbone=dict(type='ResNet_CIFAR', depth=18)))
    proj = model.neck
    assert isinstance(proj, EMPSSLProjector)
    assert [m.__class__.__name__ for m in proj.pre_feature] == \
        ['Linear', 'BatchNorm1d', 'ReLU']
    first = proj.pre_feature[0]
    assert (first.in_features, first.out_features) == (512, 4096)
    assert [m.__class__.__name__ for m in proj.projection] == \
        ['Linear', 'BatchNorm1d', 'ReLU', 'Linear']
    assert proj.projection[3].out_features == 1024
    assert model.head.tcr_loss.eps == 0.2
    assert model.head.invariance_loss.loss_weight == 200.0
    assert model.patch_micro_batch is None


def test_projection_is_l2_normalised():
    pre, z = EMPSSLProjector(8, 16, 4)(torch.randn(5, 8))
    assert pre.shape == (5, 16) and (pre >= 0).all()
    torch.testing.assert_close(z.norm(dim=1), torch.ones(5))


def test_loss_is_minus_mean_tcr_plus_weighted_invariance():
    model = build(empssl_cfg())
    views = patches()
    torch.manual_seed(3)
    losses = model.loss(views)
    # The same forward by hand: patch-major batch, shared encoder.
    torch.manual_seed(3)
    ref = copy.deepcopy(build(empssl_cfg()))
    feat = ref.backbone(torch.cat(views))[-1].mean((2, 3))
    _, z = ref.neck(feat)
    z = z.view(4, 3, -1)
    tcr = -total_coding_rate(z, 0.2).mean()
    inv = -200.0 * mean_cosine_to_patch_mean(z)
    torch.testing.assert_close(losses['loss_tcr'], tcr)
    torch.testing.assert_close(losses['loss_inv'], inv)
    assert 0 < losses['cos_to_mean'] <= 1


def test_bad_inputs_name_the_problem():
    model = build(empssl_cfg(num_patches=4))
    with pytest.raises(ValueError, match='MultiPatch'):
        model.loss(torch.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match='MultiPatch'):
        model.loss(patches(n=1))
    with pytest.raises(ValueError, match='num_patches=4'):
        model.loss(patches(n=3))
    with pytest.raises(ValueError, match='patch_micro_batch'):
        MODELS.build(empssl_cfg(patch_micro_batch=0))
    with pytest.raises(ValueError, match='in_channels'):
        build(dict(empssl_cfg(), neck=dict(type='EMPSSLProjector',
                                           in_channels=7)))(patches(), mode='loss')
    with pytest.raises(ValueError, match='stage'):
        model.extract_feat(patches(), stage='logits')


def test_chunked_gradient_equals_unchunked_without_batch_statistics():
    """GroupNorm encoder: the memory bound gives the full-batch gradient."""
    model = build(empssl_cfg(norm='GN')).double()
    views = [v.double() for v in patches(n=6)]
    total(model.loss(views)).backward()
    full = grads(model)
    model.zero_grad()
    model.patch_micro_batch = 2
    losses = model.loss(views)
    total(losses).backward()
    chunked = grads(model)
    assert full.keys() == chunked.keys() and len(full) > 20
    for name in full:
        torch.testing.assert_close(chunked[name], full[name], rtol=1e-10,
                                   atol=1e-12, msg=name)


def reference_ghost_bn_loss(model, views, k):
    """Per-micro-batch encoder forward kept in memory (no recomputation)."""
    b = views[0].shape[0]
    x = torch.cat(views)
    feat = torch.cat([model._encode(part) for part in x.split(k * b)])
    _, z = model.neck(feat)
    return total(model.head.loss(z.view(len(views), b, -1)))


def test_chunked_batchnorm_gradient_and_running_stats_match_micro_batch_reference():
    """BatchNorm encoder: exact gradient of per-micro-batch statistics, and
    running statistics updated once per micro-batch, not twice."""
    views = patches(n=6)
    ref = build(empssl_cfg())
    reference_ghost_bn_loss(ref, views, 2).backward()
    model = build(empssl_cfg(patch_micro_batch=2))
    total(model.loss(views)).backward()
    for name, grad in grads(ref).items():
        torch.testing.assert_close(dict(model.named_parameters())[name].grad,
                                   grad, rtol=1e-5, atol=1e-6, msg=name)
    for (name, buf), ref_buf in zip(model.named_buffers(), ref.buffers()):
        torch.testing.assert_close(buf, ref_buf, msg=name)
    bn = model.backbone.bn1
    assert bn.num_batches_tracked.item() == 3  # 6 patches / 2 per micro-batch


def test_bag_of_features_is_mean_patch_pre_feature_and_chunking_invariant():
    model = build(empssl_cfg()).eval()
    views = patches(n=5)
    with torch.no_grad():
        bag = model.extract_feat(views)
        per_patch = [model.neck(model._encode(v))[0] for v in views]
        model.patch_micro_batch = 2
        chunked = model.extract_feat(views)
        backbone = model.extract_feat(views, stage='backbone')
    torch.testing.assert_close(bag, torch.stack(per_patch).mean(0))
    torch.testing.assert_close(chunked, bag)
    assert bag.shape == (3, 32) and backbone.shape == (3, 32)


@pytest.mark.parametrize('depth,channels', [(18, 512), (50, 2048)])
def test_imagenet_resnets_plug_in(depth, channels):
    model = build(dict(type='EMPSSL', backbone=dict(type='ResNet', depth=depth),
                       neck=dict(type='EMPSSLProjector', in_channels=channels,
                                 hid_channels=32, out_channels=16)))
    losses = model.loss(patches(n=2, b=2, size=32))
    assert torch.isfinite(total(losses))


def test_timm_backbone_through_mmpretrain_wrapper():
    pytest.importorskip('timm')
    cfg = dict(type='EMPSSL',
               backbone=dict(type='TIMMBackbone', model_name='vit_tiny_patch16_224',
                             pretrained=False, img_size=16, patch_size=4),
               neck=dict(type='EMPSSLProjector', in_channels=192,
                         hid_channels=32, out_channels=16))
    model = build(cfg).double()
    views = [v.double() for v in patches(n=4, b=2, size=16)]
    total(model.loss(views)).backward()
    full = grads(model)
    model.zero_grad()
    model.patch_micro_batch = 1  # LayerNorm only: chunking is exact
    total(model.loss(views)).backward()
    for name, grad in full.items():
        torch.testing.assert_close(dict(model.named_parameters())[name].grad,
                                   grad, rtol=1e-9, atol=1e-12)
