#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args...]
set -e
USAGE="tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args...]"
source "$(dirname "$0")/_dist_run.sh"
dist_launch test.py 2 "give the config, the checkpoint and the number of processes" "$@"
