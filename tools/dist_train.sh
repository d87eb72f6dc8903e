#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NPROC [train.py args...]
# Launches NPROC processes on this node with torchrun. Without CUDA the
# processes use gloo on the CPU. Multi-node: set NNODES, NODE_RANK, MASTER_ADDR.
set -e
USAGE="tools/dist_train.sh CONFIG NPROC [train.py args...]"
source "$(dirname "$0")/_dist_run.sh"
dist_launch train.py 1 "give the config and the number of processes, e.g. tools/dist_train.sh CONFIG 8" "$@"
