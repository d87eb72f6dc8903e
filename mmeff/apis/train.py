"""Command-line training and testing with MMPretrain's flags.

``tools/train.py`` and ``tools/test.py`` are thin wrappers around
:func:`train_main` and :func:`test_main`. They take MMPretrain 1.2's flags
with its semantics and precedence (the flags, then the dataloader defaults,
then ``--cfg-options``, which win). Beyond MMPretrain's own tools they
repair inherited ``mmpretrain::`` configs, run distributed on CPU-only hosts
(gloo), train AMP configs in fp32 where there is no accelerator, and report
bad input (config, data, checkpoint) as one line naming the file.
"""
import argparse
import os
import os.path as osp
import sys
from copy import deepcopy

from mmengine.config import ConfigDict, DictAction
from mmengine.logging import MMLogger

from mmeff.data.checks import DatasetError, check_data_paths, check_train_batches
from mmeff.engine.checkpoint import CheckpointError, check_run_checkpoints
from mmeff.engine.config import (
    ConfigError,
    drop_amp_without_accelerator,
    load_config,
    strip_collate_scope,
)
from mmeff.engine.curricula import ScheduleError
from mmeff.engine.dist import (
    lost_peer_message,
    prepare_cpu_distributed,
    report_fault,
    report_sigterm,
)
from mmeff.engine.hooks import NonFiniteLossError
from mmeff.engine.outputs import prepare_training_outputs, refuse_existing
from mmeff.errors import MissingExtraError

from .preflight import (
    check_mask_ratios,
    check_override_types,
    check_resume_matches,
    registry_typo_message,
)

USER_ERRORS = (ConfigError, DatasetError, CheckpointError, ScheduleError,
               NonFiniteLossError, MissingExtraError)


def _parse_common(parser, argv):
    """Add the flags train and test share, parse, export LOCAL_RANK."""
    _add_common_args(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def _add_common_args(parser):
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, e.g. a.b=1 c=[1,2]; applied '
                        'after every other flag')
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


def _work_dir(cfg, args):
    if args.work_dir is not None:
        return args.work_dir
    if cfg.get('work_dir') is not None:
        return cfg.work_dir
    return osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])


def set_loader_defaults(cfg, names, args, persistent=False):
    """MMPretrain's tools' dataloader defaults, then their flags.

    ``pin_memory=True`` and ``collate_fn=dict(type='default_collate')`` (and
    ``persistent_workers=True`` for training) where the config has none.
    mmeff's one change: a loader with ``num_workers=0`` gets no
    ``persistent_workers`` default (torch refuses the combination).
    """
    for name in names:
        if cfg.get(name) is None:
            continue
        loader = ConfigDict(pin_memory=True,
                            collate_fn=dict(type='default_collate'))
        if persistent and cfg[name].get('num_workers', 0) > 0:
            loader.persistent_workers = True
        loader.update(cfg[name])
        if args.no_pin_memory:
            loader.pin_memory = False
        if getattr(args, 'no_persistent_workers', False):
            loader.persistent_workers = False
        cfg[name] = loader


def _apply_options(cfg, args):
    if args.cfg_options is not None:
        check_override_types(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)
    return strip_collate_scope(cfg)


def merge_train_args(cfg, args):
    """Apply MMPretrain's train-tool flags to ``cfg`` (same precedence)."""
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.launcher = args.launcher
    cfg.work_dir = _work_dir(cfg, args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        if cfg.get('auto_scale_lr') is None:
            raise ConfigError(f'{args.config}: --auto-scale-lr needs '
                              '`auto_scale_lr = dict(base_batch_size=...)`')
        cfg.auto_scale_lr.enable = True
    set_loader_defaults(cfg, ('train_dataloader', 'val_dataloader',
                              'test_dataloader'), args, persistent=True)
    return _apply_options(cfg, args)


def build_runner(cfg, loaders=('train_dataloader', 'val_dataloader')):
    """Build the Runner named by ``cfg.runner_type`` (default: Runner).

    ``loaders`` are the dataloaders the run will use; their data paths, and
    the checkpoints it will load, are checked first so that a wrong path
    fails before any model is built.
    """
    from mmengine.runner import Runner
    from mmpretrain.registry import RUNNERS

    from mmeff.data.essl.runner import check_essl_config
    check_essl_config(cfg, getattr(cfg, 'filename', None) or 'config')
    logger = MMLogger.get_current_instance()
    drop_amp_without_accelerator(cfg, logger)
    prepare_training_outputs(cfg, logger)
    prepare_cpu_distributed(cfg, cfg.get('launcher', 'none'))
    check_data_paths(cfg, loaders)
    check_run_checkpoints(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def _fail(prog, err):
    print(f'{prog}: error: {err}', file=sys.stderr)
    return 2


def train_main(argv=None):
    import mmeff  # noqa: F401  registers components and the allow-list
    args = parse_train_args(argv)
    if args.launcher != 'none':
        report_sigterm('train')
    cfg = None
    try:
        cfg = merge_train_args(load_config(args.config), args)
        runner = build_runner(cfg)
        check_mask_ratios(runner.model)
        check_resume_matches(runner, cfg)
        check_train_batches(runner)
        runner.train()
    except USER_ERRORS as err:
        return _fail('train', err)
    except KeyError as err:
        message = registry_typo_message(err)
        if message is None:
            raise
        return _fail('train', f'{args.config}: {message}')
    except KeyboardInterrupt:
        return _report_interrupt(args, cfg)
    except RuntimeError as err:  # a fault of the run, not bad input: exit 1
        message = lost_peer_message(err)
        if message is None:
            raise
        return report_fault('train', message)
    return 0


def _report_interrupt(args, cfg):
    """Ctrl-C: one line on what is on disk and how to go on (exit 130)."""
    from mmeff.engine.outputs import newest_intact_checkpoint
    work_dir = cfg.get('work_dir') if cfg is not None else None
    path = newest_intact_checkpoint(work_dir)[0] if work_dir else None
    if path is None:
        print('train: interrupted; no checkpoint was saved yet', file=sys.stderr)
    else:
        print(f'train: interrupted; checkpoints are intact, the latest is '
              f'{path}; continue with: python tools/train.py {args.config} '
              f'--work-dir {work_dir} --resume', file=sys.stderr)
    return 130


def parse_test_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a model (mmeff)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='the file to write predictions (or, '
                        'with --out-item metrics, the metrics) to')
    parser.add_argument('--out-item', choices=['metrics', 'pred'],
                        help='what --out holds (default: predictions)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out file')
    parser.add_argument('--amp', action='store_true',
                        help='test under automatic mixed precision')
    parser.add_argument('--show-dir',
                        help='directory to save visualized predictions in')
    parser.add_argument('--show', action='store_true',
                        help='display the predictions in a window')
    parser.add_argument('--interval', type=int, default=1,
                        help='visualize one sample per this many')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='seconds each --show window stays up')
    parser.add_argument('--tta', action='store_true',
                        help='test-time augmentation: the config\'s '
                        '`tta_model` / `tta_pipeline`, else flip TTA '
                        'averaging the classification scores')
    return _parse_common(parser, argv)


def _flip_tta_pipeline(test_pipeline):
    """MMPretrain's default TTA: flipped and unflipped, before packing."""
    pipeline = deepcopy(test_pipeline)
    pipeline[-1] = dict(type='TestTimeAug', transforms=[
        [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
        [test_pipeline[-1]]])
    return pipeline


def require_test_loop(cfg, path):
    """Refuse a config without a test loop (e.g. a pretraining config)."""
    missing = [k for k in ('test_dataloader', 'test_cfg', 'test_evaluator')
               if cfg.get(k) is None]
    if missing:
        raise ConfigError(
            f'{path}: no test loop ({", ".join(missing)} not set), as in a '
            'pretraining config; test a fine-tuning or linear-probe config '
            'instead (configs/emae/benchmarks/, configs/downstream/), with '
            'the encoder exported by tools/model_converters/export_vit.py')


def merge_test_args(cfg, args):
    """Apply MMPretrain's test-tool flags to ``cfg`` (same precedence)."""
    require_test_loop(cfg, args.config)
    if args.out is None and args.out_item is not None:
        raise ConfigError('--out-item needs --out (the file to write)')
    if args.out and args.out_item != 'metrics' and \
            not args.out.endswith(('.pkl', '.pickle')):
        raise ConfigError(f'--out {args.out}: predictions are written as '
                          'a pickle; name a .pkl file')
    if args.out:
        refuse_existing(args.out, args.overwrite)
    cfg.launcher = args.launcher
    cfg.work_dir = _work_dir(cfg, args)
    cfg.load_from = args.checkpoint
    if args.amp:
        if cfg.get('test_cfg') is None:
            cfg.test_cfg = ConfigDict()
        cfg.test_cfg.fp16 = True
    if args.show or args.show_dir is not None:
        if 'visualization' not in cfg.get('default_hooks', {}):
            raise ConfigError(
                f'{args.config}: --show/--show-dir need `default_hooks = '
                'dict(visualization=dict(type="VisualizationHook"))`')
        cfg.default_hooks.visualization.update(
            enable=True, show=args.show, wait_time=args.wait_time,
            out_dir=args.show_dir, interval=args.interval)
    if args.tta:
        if 'tta_model' not in cfg:
            cfg.tta_model = dict(type='mmpretrain.AverageClsScoreTTA')
        if 'tta_pipeline' not in cfg:
            cfg.tta_pipeline = _flip_tta_pipeline(
                cfg.test_dataloader.dataset.pipeline)
        cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    set_loader_defaults(cfg, ('test_dataloader',), args)
    return _apply_options(cfg, args)


def test_main(argv=None):
    import mmeff  # noqa: F401
    args = parse_test_args(argv)
    try:
        cfg = merge_test_args(load_config(args.config), args)
        runner = build_runner(cfg, loaders=('test_dataloader',))
        if args.out and args.out_item in ('pred', None):
            from mmengine.evaluator import DumpResults
            runner.test_evaluator.metrics.append(
                DumpResults(out_file_path=args.out))
        metrics = runner.test()
    except USER_ERRORS as err:
        return _fail('test', err)
    if args.out and args.out_item == 'metrics':
        from mmengine.fileio import dump

        from mmeff.fileio import atomic_output
        with atomic_output(args.out) as tmp:
            dump(metrics, tmp, file_format=osp.splitext(args.out)[1][1:])
    return 0
