"""Two real gloo processes: each rank reads its own shard of one permutation."""
import json
import socket
import subprocess
import sys

from mmeff.data.essl.loader import _ShardedOrder
from mmeff.data.essl.reader import ESSLRecords
from tests.helpers.tools import REPO

WORKER = r'''
import json, sys
import torch.distributed as dist
rank, port, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                        rank=rank, world_size=2)
import mmeff  # noqa: F401
from mmeff.data.essl import ESSLRunner
# What a Runner passes with randomness=dict(seed=7, diff_rank_seed=True).
loader = ESSLRunner.build_dataloader(
    dict(type='ESSLLoader', path=path, batch_size=4, num_workers=1,
         decoder=dict(type='RandomResizedCrop', scale=16)),
    seed=7 + rank, diff_rank_seed=True)
loader.sampler.set_epoch(1)
labels = [int(d.gt_label) for b in loader for d in b['data_samples']]
print(json.dumps(dict(rank=rank, seed=loader.seed, world=loader.world_size,
                      steps=len(loader), labels=labels)))
dist.destroy_process_group()
'''


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_ranks_read_disjoint_covering_shards(fmnist_beton):
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, '-c', WORKER, str(r), port,
                               fmnist_beton], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for r in range(2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    labels = ESSLRecords(fmnist_beton).labels
    shards = []
    for out in sorted(outs, key=lambda o: o['rank']):
        # Same seed on both ranks despite diff_rank_seed; one world of two.
        assert out['seed'] == 7 and out['world'] == 2 and out['steps'] == 5
        shard = _ShardedOrder(40, 7, True, out['rank'], 2).sample_order(1)
        assert out['labels'] == labels[shard].tolist()
        shards.append(set(shard.tolist()))
    assert shards[0].isdisjoint(shards[1])
    assert shards[0] | shards[1] == set(range(40))
