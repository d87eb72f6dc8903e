#!/usr/bin/env bash
# Set up the environment (idempotent) and run the quickstart on the bundled data.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" tools/quickstart.py "$@"
