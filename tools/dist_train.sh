#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NPROC [train.py args...]
# Launches NPROC processes on this node with torchrun. Without CUDA the
# processes use gloo on the CPU. Multi-node: set NNODES, NODE_RANK, MASTER_ADDR.
set -e
usage() {
    echo "usage: tools/dist_train.sh CONFIG NPROC [train.py args...]" >&2
    echo "dist_train.sh: error: $1" >&2
    exit 2
}
[ $# -ge 2 ] || usage "give the config and the number of processes, e.g. tools/dist_train.sh CONFIG 8"
[[ "$2" =~ ^[1-9][0-9]*$ ]] || usage "NPROC must be a positive integer, got '$2'"
CONFIG=$1
NPROC=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python}
[ -x "$ROOT/.venv/bin/python" ] && [ -z "${VIRTUAL_ENV:-}" ] && PYTHON="$ROOT/.venv/bin/python"

PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
