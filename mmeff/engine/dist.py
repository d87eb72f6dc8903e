"""Distributed launch on machines without CUDA.

MMEngine's ``pytorch`` and ``slurm`` launchers call ``torch.cuda.set_device``
and its DDP wrapper passes ``device_ids=[LOCAL_RANK]``; both fail on a CPU
host. :func:`prepare_cpu_distributed` initialises a gloo process group from
the launcher's environment before the Runner is built (the Runner then skips
its own ``init_dist``) and makes DDP wrap the model without device ids.
"""
import os
import subprocess
from datetime import timedelta

import torch
import torch.distributed as dist


def _slurm_env():
    """Translate Slurm's variables into torch.distributed's ``env://``."""
    env = os.environ
    env.setdefault('RANK', env['SLURM_PROCID'])
    env.setdefault('WORLD_SIZE', env['SLURM_NTASKS'])
    env.setdefault('LOCAL_RANK', env.get('SLURM_LOCALID', '0'))
    env.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in env:
        nodes = env['SLURM_NODELIST']
        env['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {nodes} | head -n1')


def prepare_cpu_distributed(cfg, launcher):
    """Set up gloo for ``launcher`` when CUDA is unavailable.

    Returns True if it initialised the process group, False when nothing was
    needed (no launcher, or CUDA present so MMEngine's own path applies).
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher == 'slurm':
        _slurm_env()
    elif launcher != 'pytorch':
        raise ValueError(f'launcher {launcher!r} is not supported without '
                         "CUDA; use 'pytorch' (torchrun) or 'slurm'")
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'
    if not dist.is_initialized():
        timeout = timedelta(seconds=dist_cfg.get('timeout', 1800))
        dist.init_process_group('gloo', init_method='env://', timeout=timeout)
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    return True
