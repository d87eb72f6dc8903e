"""Distributed launch on machines without CUDA.

MMEngine's ``pytorch`` and ``slurm`` launchers call ``torch.cuda.set_device``
and its DDP wrapper passes ``device_ids=[LOCAL_RANK]``; both fail on a CPU
host. :func:`prepare_cpu_distributed` initialises a gloo process group from
the launcher's environment before the Runner is built (the Runner then skips
its own ``init_dist``) and makes DDP wrap the model without device ids.

When a process of a run dies (killed, out of memory), gloo fails the
collective its peers are in as soon as the connection drops; a peer that
hangs without dying is caught by the process group's timeout
(``env_cfg.dist_cfg.timeout``, seconds, MMEngine's default 1800).
:func:`lost_peer_message` turns the first case into one line; torchrun then
ends the remaining processes with SIGTERM, which :func:`report_sigterm`
turns into one line too.
"""
import os
import re
import signal
import subprocess
import sys
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


# What gloo's TCP transport and c10d report when a peer process is gone.
_LOST_PEER = ('Connection closed by peer', 'Connection reset by peer',
              'Broken pipe', 'Connection refused')


def _rank_of_world():
    if dist.is_available() and dist.is_initialized():
        return f'rank {dist.get_rank()} of {dist.get_world_size()}'
    env = os.environ
    return f"rank {env.get('RANK', '?')} of {env.get('WORLD_SIZE', '?')}"


def lost_peer_message(err):
    """A one-line message if ``err`` says a peer process of the distributed
    run is gone, else None."""
    if not dist.is_available() or not dist.is_initialized():
        return None
    text = str(err).strip()
    if not (isinstance(err, dist.DistError)
            or any(s in text for s in _LOST_PEER)):
        return None
    # gloo: "[.../pair.cc:545] Read error [host]:port: Connection reset by
    # peer. This is typically caused by ..." -> the part before the advice.
    first = re.sub(r'^\[[^\]]*\]\s*', '', text.splitlines()[0] if text else '')
    first = first.split('. ')[0][:200] or type(err).__name__
    return (f'{_rank_of_world()}: lost another process of the distributed '
            f'run ({first}); see the launcher\'s report for which rank '
            'failed, then restart with --resume')


def report_fault(prog, message):
    """Print the one line of a failed run and return exit status 1.

    A launcher's SIGTERM arriving after it ends the process silently, so a
    process reports one fault, not two.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    print(f'{prog}: error: {message}', file=sys.stderr, flush=True)
    return 1


def report_sigterm(prog):
    """Exit with one line (status 143) when the launcher sends SIGTERM.

    torchrun and Slurm end the other processes of a run with SIGTERM when
    one fails; without a handler they vanish without a word.
    """
    owner = os.getpid()

    def handler(signum, frame):
        if os.getpid() != owner:  # a forked loader worker: die as usual
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        print(f'{prog}: error: {_rank_of_world()}: stopped by SIGTERM (the '
              'launcher ends every process when one fails, see its report); '
              'restart with --resume', file=sys.stderr, flush=True)
        os._exit(128 + signum)  # no cleanup: peers may be gone

    signal.signal(signal.SIGTERM, handler)


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
