"""LinearProbeInitHook: fine-tuning starts from a linear probe of the
features (LP-FT), only at iteration 0, and a wrong layer is a config error."""
import pytest
import torch

import mmeff  # noqa: F401
from mmeff.apis.quickstart import DEFAULT_FINETUNE_CONFIG, finetune_config
from mmeff.apis.train import build_runner
from mmeff.errors import ConfigError
from mmeff.evaluation import extract_features, fit_linear_probe

# The quickstart's fine-tuning with LP-FT: its validation decoder on the
# training file (the path is set by finetune_config).
LP_HOOK = dict(type='LinearProbeInitHook',
               dataloader=dict(type='ESSLLoader', path='unset.beton',
                               batch_size=16, num_workers=0, shuffle=False,
                               decoder=dict(type='CenterCrop', scale=32,
                                            crop_ratio=1.0)))


def lpft_config(beton, work_dir, **hook_overrides):
    return finetune_config(
        DEFAULT_FINETUNE_CONFIG, str(work_dir), None, None, max_epochs=1,
        train_path=beton, val_path=beton,
        overrides={'custom_hooks': [dict(LP_HOOK, **hook_overrides)],
                   'train_dataloader.batch_size': 8})


def finetune_runner(beton, work_dir, **hook_overrides):
    runner = build_runner(lpft_config(beton, work_dir, **hook_overrides))
    runner._init_model_weights()
    return runner, next(h for h in runner.hooks
                        if type(h).__name__ == 'LinearProbeInitHook')


def test_finetune_config_points_the_probe_at_the_training_file(fmnist_beton,
                                                               tmp_path):
    hook, = lpft_config(fmnist_beton, tmp_path).custom_hooks
    assert hook.dataloader.path == fmnist_beton


def test_head_starts_as_the_linear_probe_of_the_features(fmnist_beton,
                                                         tmp_path):
    runner, hook = finetune_runner(fmnist_beton, tmp_path)
    model = runner.model
    feats, labels = extract_features(model, runner.build_dataloader(
        hook.loader_cfg))
    hook.before_train(runner)

    weight, bias = fit_linear_probe(feats, labels, num_classes=10)
    assert torch.allclose(model.head.fc.weight, weight, atol=1e-5)
    assert torch.allclose(model.head.fc.bias, bias, atol=1e-5)
    # The head's logits on the features are the probe's: it separates the
    # 40 labelled images far above chance (10%) before any step.
    logits = model.head.fc(feats)
    assert (logits.argmax(1) == labels).float().mean() > 0.5


def test_a_resumed_run_keeps_its_trained_head(fmnist_beton, tmp_path):
    runner, hook = finetune_runner(fmnist_beton, tmp_path)
    runner.train_loop._iter = 5
    before = runner.model.head.fc.weight.clone()
    hook.before_train(runner)
    assert torch.equal(runner.model.head.fc.weight, before)


def test_a_layer_that_is_not_linear_is_a_config_error(fmnist_beton, tmp_path):
    runner, hook = finetune_runner(fmnist_beton, tmp_path, head_layer='backbone')
    with pytest.raises(ConfigError, match=r"head_layer='backbone' is not an "
                       r"nn.Linear of ImageClassifier.*'head.fc'"):
        hook.before_train(runner)
