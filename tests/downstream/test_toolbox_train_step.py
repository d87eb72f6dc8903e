"""One training iteration of the Mask R-CNN and UperNet configs.

Gate: MMDetection and MMSegmentation models import ``mmcv.ops`` (compiled
ops: RoIAlign, NMS, ...), which mmcv-lite lacks, and ``mmseg.models`` also
imports ``ftfy`` and ``regex``. Each test is skipped, naming the missing
module, unless ``mmcv.ops`` (and for UperNet ``mmseg.models``) imports; with
the full mmcv 2.1.0 build (tools/build_mmcv.sh) they run on the CPU.

The configs are used as written except for size: the ViT is narrowed
(32 channels, 2 or 12 blocks), images are 64x64, and the config's AMP
wrapper becomes a plain one on CPU (as mmeff's tools/train.py does). The
full model is built through the toolbox's ``MODELS`` registry under its
default scope, fed random images with a box + mask (``DetDataSample``) or a
segmentation map (``SegDataSample``), and stepped with ``train_step`` and
the optimizer wrapper the config describes (layer-wise lr decay).
"""
import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import mmeff  # noqa: F401
from mmeff.engine.config import drop_amp_without_accelerator
from tests.downstream.helpers import DET, NARROW_VIT, SEG

SIZE = 64


def tiny_arch(num_layers):
    return dict(NARROW_VIT, num_layers=num_layers)


def step_and_check(model, cfg, data):
    """One ``train_step``; return its log and the parameters it changed."""
    drop_amp_without_accelerator(cfg)
    optim_wrapper = build_optim_wrapper(model, copy.deepcopy(
        cfg.optim_wrapper))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model.train()
    log_vars = model.train_step(data, optim_wrapper)
    assert all(torch.isfinite(torch.as_tensor(v)).all()
               for v in log_vars.values()), log_vars
    changed = {n for n, p in model.named_parameters()
               if not torch.equal(p, before[n])}
    return log_vars, optim_wrapper, changed


def lr_of(optim_wrapper, name):
    for group in optim_wrapper.optimizer.param_groups:
        if name in group['param_names']:
            return group['lr']
    raise KeyError(name)


def det_batch(n=2):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    inputs, samples = [], []
    for i in range(n):
        sample = DetDataSample(metainfo=dict(
            img_id=i, img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE),
            scale_factor=(1., 1.)))
        x0, y0, x1, y1 = 8 + 4 * i, 8, 40, 48
        masks = np.zeros((1, SIZE, SIZE), dtype=np.uint8)
        masks[0, y0:y1, x0:x1] = 1
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[x0, y0, x1, y1]], dtype=torch.float32),
            labels=torch.tensor([3]),
            masks=BitmapMasks(masks, SIZE, SIZE))
        inputs.append(torch.randint(0, 256, (3, SIZE, SIZE),
                                    dtype=torch.uint8))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_mask_rcnn_config_trains_one_iteration():
    pytest.importorskip('mmcv.ops', reason='MMDetection needs full mmcv')
    from mmdet.registry import MODELS
    cfg = Config.fromfile(DET)
    backbone = cfg.model.backbone
    backbone.arch = tiny_arch(2)
    backbone.update(img_size=SIZE, out_indices=(1, ))
    backbone.pop('init_cfg')
    cfg.model.neck.in_channels = NARROW_VIT['embed_dims']
    cfg.model.data_preprocessor.batch_augments[0].size = (SIZE, SIZE)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        # ViTDet's LayerNorm heads come from MMPretrain's LN2d.
        norm = model.roi_head.bbox_head.shared_convs[0].norm
        assert type(norm).__name__ == 'LayerNorm2d'
        assert len(model.rpn_head.rpn_conv) == 2  # ViTDet's 2-conv RPN
        log_vars, optim_wrapper, changed = step_and_check(
            model, cfg, det_batch())
    for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox',
                'loss_mask'):
        assert key in log_vars, sorted(log_vars)
    assert 'backbone.layers.0.attn.qkv.weight' in changed
    assert 'neck.output_convs.0.0.weight' in changed
    # 2 blocks -> depths 0..3; the stem is 3 steps below the heads.
    assert lr_of(optim_wrapper, 'backbone.patch_embed.projection.weight') \
        == pytest.approx(1e-4 * 0.7**3)
    assert lr_of(optim_wrapper, 'rpn_head.rpn_cls.weight') == \
        pytest.approx(1e-4)


def seg_batch(n=2, num_classes=150):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    inputs, samples = [], []
    for _ in range(n):
        sample = SegDataSample(metainfo=dict(img_shape=(SIZE, SIZE),
                                             ori_shape=(SIZE, SIZE)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, num_classes, (1, SIZE, SIZE)))
        inputs.append(torch.randint(0, 256, (3, SIZE, SIZE),
                                    dtype=torch.uint8))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_upernet_config_trains_one_iteration():
    pytest.importorskip('mmcv.ops', reason='MMSegmentation needs full mmcv')
    pytest.importorskip('mmseg.models',
                        reason='mmseg.models does not import (ftfy, regex?)')
    from mmseg.registry import MODELS
    cfg = Config.fromfile(SEG)
    width = NARROW_VIT['embed_dims']
    backbone = cfg.model.backbone
    backbone.arch = tiny_arch(12)  # keeps out_indices (3, 5, 7, 11)
    backbone.img_size = SIZE
    backbone.pop('init_cfg')
    cfg.model.data_preprocessor.size = (SIZE, SIZE)
    cfg.model.neck.update(in_channels=[width] * 4, out_channels=width)
    cfg.model.decode_head.update(in_channels=[width] * 4, channels=width)
    cfg.model.auxiliary_head.update(in_channels=width, channels=16)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        feats = model.extract_feat(torch.randn(1, 3, SIZE, SIZE))
        assert [tuple(f.shape) for f in feats] == [
            (1, width, SIZE // s, SIZE // s) for s in (4, 8, 16, 32)]
        log_vars, optim_wrapper, changed = step_and_check(
            model, cfg, seg_batch())
    assert 'decode.loss_ce' in log_vars and 'aux.loss_ce' in log_vars
    assert 'backbone.layers.11.ffn.layers.1.weight' in changed
    assert 'decode_head.conv_seg.weight' in changed
    # 12 blocks -> depths 0..13; block 0 is at depth 1.
    assert lr_of(optim_wrapper, 'backbone.layers.0.attn.qkv.weight') == \
        pytest.approx(1e-4 * 0.65**12)
    assert lr_of(optim_wrapper, 'decode_head.conv_seg.weight') == \
        pytest.approx(1e-4)
