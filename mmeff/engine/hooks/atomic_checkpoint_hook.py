"""A CheckpointHook whose checkpoints survive a kill at any moment."""
import os
import os.path as osp

import mmengine
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.utils import digit_version
from mmpretrain.registry import HOOKS

from ..outputs import AtomicLocalBackend, atomic_write_bytes, stale_temporaries

# The save below re-implements CheckpointHook._save_checkpoint_with_step of
# these MMEngine versions (its bookkeeping attributes are not public API).
_VERIFIED = (digit_version('0.10.0'), digit_version('0.11.0'))


def _verified_mmengine():
    return _VERIFIED[0] <= digit_version(mmengine.__version__) < _VERIFIED[1]


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """MMEngine's CheckpointHook, saving so that a kill loses nothing saved.

    MMEngine 0.10 writes a checkpoint straight to its final name, deletes the
    oldest kept checkpoint *before* writing the new one (``max_keep_ckpts``),
    and then overwrites ``last_checkpoint`` in place: a SIGKILL during a save
    can leave a truncated file under a checkpoint's name, or no loadable
    checkpoint at all. This hook

    * writes every checkpoint (regular and best) through
      :class:`~mmeff.engine.outputs.AtomicLocalBackend`: temporary file,
      fsync, atomic rename;
    * updates ``last_checkpoint`` (atomically) only after the checkpoint is
      complete, and removes checkpoints beyond ``max_keep_ckpts`` only then;
    * with ``save_best``, removes the previous best checkpoint only after
      the new best is complete (MMEngine removes it first);
    * removes temporary files a killed save left in the output folder.

    mmeff's tools use it in place of ``CheckpointHook``; for MMPretrain's own
    tools set ``default_hooks.checkpoint.type='AtomicCheckpointHook'``.
    Atomicity needs a local folder: with another storage backend in
    ``backend_args`` (e.g. petrel) the hook saves as CheckpointHook does.

    Args: as :class:`mmengine.hooks.CheckpointHook`.
    """

    def __init__(self, *args, backend_args=None, **kwargs):
        if not backend_args or backend_args.get('backend') == 'local':
            backend_args = dict(backend_args or {}, backend='atomic_local')
        super().__init__(*args, backend_args=backend_args, **kwargs)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self.atomic = isinstance(self.file_backend, AtomicLocalBackend)
        if not self.atomic:
            runner.logger.warning(
                f'{type(self).__name__}: {self.out_dir} is not on a local '
                'file backend; checkpoints are saved non-atomically')
        elif not _verified_mmengine():
            runner.logger.warning(
                f'{type(self).__name__} is verified on MMEngine 0.10 only '
                f'(found {mmengine.__version__}): files are written '
                'atomically, but old checkpoints are removed before a save')
        if self.atomic and is_main_process():
            for tmp in stale_temporaries(self.out_dir):
                runner.logger.warning(f'removing {tmp}, left by a save that '
                                      'was interrupted')
                os.remove(tmp)

    def _save_best_checkpoint(self, runner, metrics):
        if not (self.atomic and _verified_mmengine()):
            return super()._save_best_checkpoint(runner, metrics)
        # MMEngine 0.10 removes the old best through file_backend.remove
        # before writing the new one: hold those removals until it returns.
        held = []
        self.file_backend.remove = held.append
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            del self.file_backend.remove
        for path in held:
            self.file_backend.remove(path)

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not (self.atomic and _verified_mmengine()):
            return super()._save_checkpoint_with_step(runner, step, meta)
        dropped = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                dropped = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, filename, self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta,
            by_epoch=self.by_epoch, backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        atomic_write_bytes(osp.join(runner.work_dir, 'last_checkpoint'),
                           self.last_ckpt.encode())
        if dropped is not None:
            old = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(dropped))
            if self.file_backend.isfile(old):
                self.file_backend.remove(old)
