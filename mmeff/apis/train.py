"""Command-line training and testing with MMPretrain's flags.

``tools/train.py`` and ``tools/test.py`` are thin wrappers around
:func:`train_main` and :func:`test_main`. Beyond MMPretrain's own tools they
repair inherited ``mmpretrain::`` configs, run distributed on CPU-only hosts
(gloo), train AMP configs in fp32 where there is no accelerator, and report
bad input (config, data, checkpoint) as one line naming the file.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction
from mmengine.logging import MMLogger

from mmeff.data.checks import DatasetError, check_data_paths
from mmeff.engine.checkpoint import CheckpointError
from mmeff.engine.config import (ConfigError, drop_amp_without_accelerator,
                                 load_config)
from mmeff.engine.curricula import ScheduleError
from mmeff.engine.dist import (lost_peer_message, prepare_cpu_distributed,
                               report_fault, report_sigterm)
from mmeff.engine.hooks import NonFiniteLossError
from mmeff.engine.outputs import prepare_training_outputs

USER_ERRORS = (ConfigError, DatasetError, CheckpointError, ScheduleError,
               NonFiniteLossError)


def _parse_common(parser, argv):
    """Add the flags train and test share, parse, export LOCAL_RANK."""
    _add_common_args(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def _add_common_args(parser):
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, e.g. a.b=1 c=[1,2]')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--no-pin-memory', action='store_true',
                        help='disable pin_memory in dataloaders')
    # torchrun >= 2.0 passes --local-rank; older launchers --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_train_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model (mmeff)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or from the '
                        'latest one in the work dir when none is given')
    parser.add_argument('--amp', action='store_true',
                        help='enable automatic mixed precision')
    parser.add_argument('--no-validate', action='store_true',
                        help='skip validation during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the LR by the actual total batch size')
    parser.add_argument('--no-persistent-workers', action='store_true',
                        help='disable persistent_workers in dataloaders')
    return _parse_common(parser, argv)


def _set_loaders(cfg, key, value, names):
    for name in names:
        if cfg.get(name) is not None:
            cfg[name][key] = value


def _work_dir(cfg, args):
    if args.work_dir is not None:
        return args.work_dir
    if cfg.get('work_dir') is not None:
        return cfg.work_dir
    return osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])


def merge_train_args(cfg, args):
    """Apply MMPretrain's train-tool flags to ``cfg`` (same semantics)."""
    cfg.launcher = args.launcher
    cfg.work_dir = _work_dir(cfg, args)
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.amp:
        wrapper = cfg.optim_wrapper
        if wrapper.get('type', 'OptimWrapper') == 'OptimWrapper':
            wrapper['type'] = 'AmpOptimWrapper'
            wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    if args.no_pin_memory:
        _set_loaders(cfg, 'pin_memory', False, loaders)
    if args.no_persistent_workers:
        _set_loaders(cfg, 'persistent_workers', False, loaders)
    return cfg


def build_runner(cfg, loaders=('train_dataloader', 'val_dataloader')):
    """Build the Runner named by ``cfg.runner_type`` (default: Runner).

    ``loaders`` are the dataloaders the run will use; their data paths are
    checked first so that a wrong path fails before any model is built.
    """
    from mmengine.runner import Runner
    from mmpretrain.registry import RUNNERS
    logger = MMLogger.get_current_instance()
    if 'runner_type' in cfg:
        runner_cls = cfg.runner_type
        if isinstance(runner_cls, str):
            runner_cls = RUNNERS.get(runner_cls)
        # A runner that composes its config (DailyMAERunner) resolves it
        # first, so the checks below see the loaders the run will build.
        resolve = getattr(runner_cls, 'resolve_config', None)
        if resolve is not None:
            cfg = resolve(cfg)
    drop_amp_without_accelerator(cfg, logger)
    prepare_training_outputs(cfg, logger)
    prepare_cpu_distributed(cfg, cfg.get('launcher', 'none'))
    check_data_paths(cfg, loaders)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def _fail(prog, err):
    print(f'{prog}: error: {err}', file=sys.stderr)
    return 2


def train_main(argv=None):
    import mmeff  # noqa: F401  registers components and the safe loader
    args = parse_train_args(argv)
    if args.launcher != 'none':
        report_sigterm('train')
    try:
        cfg = merge_train_args(load_config(args.config, args.cfg_options), args)
        runner = build_runner(cfg)
        runner.train()
    except USER_ERRORS as err:
        return _fail('train', err)
    except RuntimeError as err:  # a fault of the run, not bad input: exit 1
        message = lost_peer_message(err)
        if message is None:
            raise
        return report_fault('train', message)
    return 0


def parse_test_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a model (mmeff)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump the metrics (.json/.pkl)')
    parser.add_argument('--out-item', choices=['metrics', 'pred'],
                        default='metrics', help='what to dump with --out')
    parser.add_argument('--tta', action='store_true',
                        help='test with the config\'s test-time augmentation')
    return _parse_common(parser, argv)


def merge_test_args(cfg, args):
    cfg.launcher = args.launcher
    cfg.work_dir = _work_dir(cfg, args)
    cfg.load_from = args.checkpoint
    if args.no_pin_memory:
        _set_loaders(cfg, 'pin_memory', False, ('test_dataloader',))
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise ConfigError(f'{args.config}: --tta needs `tta_model` and '
                              '`tta_pipeline` in the config')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.model = dict(cfg.tta_model, module=cfg.model)
    if args.out and args.out_item == 'pred':
        cfg.test_evaluator = [*([cfg.test_evaluator] if isinstance(
            cfg.test_evaluator, dict) else cfg.test_evaluator),
            dict(type='DumpResults', out_file_path=args.out)]
    return cfg


def test_main(argv=None):
    import mmeff  # noqa: F401
    args = parse_test_args(argv)
    try:
        if not osp.isfile(args.checkpoint):
            raise CheckpointError(f'checkpoint not found: {args.checkpoint}')
        cfg = merge_test_args(load_config(args.config, args.cfg_options), args)
        runner = build_runner(cfg, loaders=('test_dataloader',))
        metrics = runner.test()
    except USER_ERRORS as err:
        return _fail('test', err)
    if args.out and args.out_item == 'metrics':
        from mmengine.fileio import dump
        dump(metrics, args.out)
    return 0
