"""Merged param groups, bf16 without a scaler: same update, less work."""
import torch
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS

from mmeff.engine.config import load_config

QUICKSTART = 'configs/quickstart/mae_vit-tiny-p4_1xb64-coslr-30e_fashion-mnist.py'


def quickstart_model_and_wrapper_cfg(repo_root):
    cfg = load_config(f'{repo_root}/{QUICKSTART}')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    wrapper = dict(cfg.optim_wrapper, type='OptimWrapper')
    wrapper.pop('loss_scale', None)
    return model, wrapper


def settings(wrapper):
    """(lr, weight decay) of every parameter, by identity."""
    return {id(p): (g['lr'], g['weight_decay'])
            for g in wrapper.optimizer.param_groups for p in g['params']}


def test_merged_groups_keep_each_parameters_settings_and_update(repo_root):
    model, cfg = quickstart_model_and_wrapper_cfg(repo_root)
    merged = build_optim_wrapper(model, cfg)
    default = build_optim_wrapper(
        model, dict(cfg, constructor='DefaultOptimWrapperConstructor'))
    # MAE's paramwise_cfg: no decay on norms, biases, tokens -> two settings.
    assert len(merged.optimizer.param_groups) == 2
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(default.optimizer.param_groups) == len(trainable)
    assert settings(merged) == settings(default)

    images = torch.randn(4, 3, 32, 32)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    after = []
    for wrapper in (merged, default):
        model.load_state_dict(start)
        torch.manual_seed(1)
        wrapper.update_params(sum(model.loss(images, None).values()))
        after.append({k: v.clone() for k, v in model.state_dict().items()})
    for key in start:
        torch.testing.assert_close(after[0][key], after[1][key], msg=key)


def test_bf16_wrapper_autocasts_and_keeps_fp32_master_weights(repo_root):
    model, cfg = quickstart_model_and_wrapper_cfg(repo_root)
    wrapper = build_optim_wrapper(model, dict(cfg, type='BF16OptimWrapper'))
    assert not hasattr(wrapper, 'loss_scaler')
    with wrapper.optim_context(model):
        out = model.neck.decoder_embed(torch.randn(2, 5, 128))  # a Linear
    assert out.dtype == torch.bfloat16
    before = model.backbone.cls_token.detach().clone()
    with wrapper.optim_context(model):
        loss = sum(model.loss(torch.randn(2, 3, 32, 32), None).values())
    wrapper.update_params(loss)
    assert model.backbone.cls_token.dtype == torch.float32
    assert not torch.equal(model.backbone.cls_token, before)
