# Sourced by dist_train.sh and dist_test.sh: argument checks and the torchrun
# launch on this node. Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (PORT).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON=${PYTHON:-python}
[ -x "$ROOT/.venv/bin/python" ] && [ -z "${VIRTUAL_ENV:-}" ] && PYTHON="$ROOT/.venv/bin/python"

# usage MESSAGE: the script's usage line ($USAGE), its error, exit 2.
usage() {
    echo "usage: $USAGE" >&2
    echo "$(basename "$0"): error: $1" >&2
    exit 2
}

# dist_launch SCRIPT NPOS MISSING ARGS...: ARGS are NPOS positionals for
# tools/SCRIPT, then NPROC, then SCRIPT's options; MISSING is the error when
# NPROC is not given. Runs SCRIPT in NPROC processes with --launcher pytorch.
dist_launch() {
    local script=$1 npos=$2 missing=$3
    shift 3
    [ $# -gt "$npos" ] || usage "$missing"
    local positional=("${@:1:$npos}") nproc=${*:$((npos + 1)):1}
    [[ "$nproc" =~ ^[1-9][0-9]*$ ]] || usage "NPROC must be a positive integer, got '$nproc'"
    shift $((npos + 1))
    PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec "$PYTHON" -m torch.distributed.run \
        --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
        --master_addr="${MASTER_ADDR:-127.0.0.1}" --nproc_per_node="$nproc" \
        --master_port="${PORT:-29500}" \
        "$ROOT/tools/$script" "${positional[@]}" --launcher pytorch "$@"
}
