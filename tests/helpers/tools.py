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
