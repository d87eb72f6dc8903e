"""Records the image size the encoder embeds in every training epoch."""
import json
import os.path as osp

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class InputSizeRecorderHook(Hook):
    priority = 'LOWEST'

    def before_train(self, runner):
        self.sizes = {}
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        # The patch embedding sees every image, also where EMAE bypasses the
        # backbone's forward (embed + parallel masking).
        embed = getattr(model.backbone, 'patch_embed', model.backbone)
        embed.register_forward_pre_hook(self._record)
        self._runner = runner

    def _record(self, module, args):
        if module.training:
            epoch = self._runner.epoch
            self.sizes.setdefault(epoch, set()).add(tuple(args[0].shape[-2:]))

    def after_train_epoch(self, runner):
        lr = runner.optim_wrapper.get_lr()['lr'][0]
        record = {str(e): sorted(s) for e, s in self.sizes.items()}
        path = osp.join(runner.work_dir, 'seen_sizes.json')
        previous = {}
        if osp.isfile(path):
            with open(path) as f:
                previous = json.load(f)
        previous.update(record)
        previous[f'lr_{runner.epoch}'] = lr
        with open(path, 'w') as f:
            json.dump(previous, f)
        self.sizes = {}
