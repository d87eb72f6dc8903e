"""Start fine-tuning from a linear probe: LP-FT (Kumar et al., ICLR 2022)."""
import torch
from mmengine.dist import broadcast, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmeff.engine.utils import unwrap_model
from mmeff.errors import ConfigError
from mmeff.evaluation import extract_features, fit_linear_probe


@HOOKS.register_module()
class LinearProbeInitHook(Hook):
    """Fit the classifier's last linear layer on frozen features before the
    first step, then fine-tune everything from there.

    Kumar et al. ("Fine-Tuning can Distort Pretrained Features and
    Underperform Out-of-Distribution", ICLR 2022) show that fine-tuning from
    a random head moves the pretrained features while the head is still
    wrong; fitting the head first (linear probing, LP) and then fine-tuning
    (FT) keeps them. Here the LP step is the full-batch softmax probe of
    :func:`~mmeff.evaluation.fit_linear_probe` on the features the head
    receives (``extract_feat``: for MMPretrain's ``ImageClassifier`` the
    backbone's pooled, normalised output), its standardisation folded into
    the layer, so the head's first logits are the probe's. The paper's LP
    is a logistic regression to convergence; the full-batch probe is the
    same objective with a fixed step budget.

    Runs only at iteration 0, so a resumed run keeps its trained head. The
    main process fits and broadcasts the layer to the other ranks.

    Args:
        dataloader (dict): loader config of the labelled images, read once
            in order, without augmentation (e.g. the validation decoder on
            the training file).
        head_layer (str): attribute path of the ``nn.Linear`` to set,
            relative to the model. Defaults to ``'head.fc'``
            (``LinearClsHead``).
        epochs (int), lr (float), weight_decay (float): the probe's
            full-batch AdamW steps. Defaults: 100, 0.1, 1e-4 (the probe the
            quickstart reports).
    """

    priority = 'LOW'

    def __init__(self, dataloader, head_layer='head.fc', epochs=100, lr=0.1,
                 weight_decay=1e-4):
        self.loader_cfg = dataloader
        self.head_layer = head_layer
        self.probe_args = dict(epochs=epochs, lr=lr, weight_decay=weight_decay)

    def _layer(self, model):
        layer = model
        for name in self.head_layer.split('.'):
            layer = getattr(layer, name, None)
        if not isinstance(layer, torch.nn.Linear):
            raise ConfigError(
                f'LinearProbeInitHook: head_layer={self.head_layer!r} is not '
                f'an nn.Linear of {type(model).__name__}; name the '
                "classifier's last linear layer (LinearClsHead: 'head.fc')")
        return layer

    def before_train(self, runner):
        if runner.iter != 0:
            return
        model = unwrap_model(runner.model)
        layer = self._layer(model)
        if is_main_process():
            loader = runner.build_dataloader(self.loader_cfg)
            feats, labels = extract_features(model, loader)
            if feats.shape[1] != layer.in_features:
                raise ConfigError(
                    f'LinearProbeInitHook: the features have {feats.shape[1]} '
                    f'channels, {self.head_layer} takes {layer.in_features}')
            weight, bias = fit_linear_probe(
                feats, labels, num_classes=layer.out_features,
                **self.probe_args)
            with torch.no_grad():
                layer.weight.copy_(weight)
                layer.bias.copy_(bias)
            runner.logger.info(
                f'LinearProbeInitHook: {self.head_layer} fitted on '
                f'{len(labels)} images')
        if get_world_size() > 1:
            broadcast(layer.weight.data)
            broadcast(layer.bias.data)
