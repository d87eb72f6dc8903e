"""Run the repository's tools the way a user does: in a subprocess."""
import os
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PYTHON = sys.executable


def run_tool(args, cwd=REPO, timeout=600, env=None):
    """Run a repo command in a subprocess with the repo on PYTHONPATH."""
    full_env = dict(os.environ)
    full_env['PYTHONPATH'] = REPO + os.pathsep + full_env.get('PYTHONPATH', '')
    full_env.setdefault('PYTHON', sys.executable)
    full_env.update(env or {})
    return subprocess.run(args, cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def assert_ok(result):
    """A finished ``run_tool`` result exited 0; its output tails if not."""
    assert result.returncode == 0, \
        result.stdout[-3000:] + result.stderr[-3000:]


def assert_same_weights(expected_ckpt, got_ckpt):
    """Two checkpoints hold the same keys and bit-identical tensors."""
    import torch
    expected = torch.load(expected_ckpt, map_location='cpu',
                          weights_only=True)['state_dict']
    got = torch.load(got_ckpt, map_location='cpu',
                     weights_only=True)['state_dict']
    assert expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=0,
                                   msg=key)
