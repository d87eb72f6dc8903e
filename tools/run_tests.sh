#!/usr/bin/env bash
# Set up the environment (idempotent, with the downstream stack: full mmcv,
# MMDetection, MMSegmentation) and run the test suite.
# Fails when any test fails and when no test ran (pytest exit code 5).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh" --downstream
cd "$ROOT"
set +e
"$ROOT/.venv/bin/python" -m pytest tests "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "run_tests: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
