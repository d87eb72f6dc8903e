#!/usr/bin/env bash
# Builds a full mmcv 2.1.0 wheel (compiled CPU ops: what MMDetection 3.3 and
# MMSegmentation 1.2 import) from the PyPI source distribution against the
# virtual environment's torch, and prints the wheel's path.
#
# mmcv 2.1.0 compiles with -std=c++14/17; torch 2.14's headers need C++20, so
# the flags are raised before the build. setuptools<70 is what mmcv's setup.py
# works with; it is installed only into a throw-away build prefix.
# About 13 minutes on 2 cores. The wheel is cached (MMEFF_WHEEL_CACHE, default
# ~/.cache/mmeff/wheels), so the build happens once per machine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMEFF_VENV:-$ROOT/.venv}"
CACHE="${MMEFF_WHEEL_CACHE:-$HOME/.cache/mmeff/wheels}"
VERSION=2.1.0
log() { printf '[build_mmcv] %s\n' "$*" >&2; }

mkdir -p "$CACHE"
shopt -s nullglob
cached=("$CACHE"/mmcv-"$VERSION"-*.whl)
if [ "${#cached[@]}" -gt 0 ]; then
  log "cached wheel: ${cached[0]}"
  printf '%s\n' "${cached[0]}"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pip_q() {
  "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
log "fetching the mmcv $VERSION source distribution"
pip_q download "mmcv==$VERSION" --no-binary :all: --no-deps \
  --no-build-isolation -d "$work"
tar -xzf "$work"/mmcv-"$VERSION".tar.gz -C "$work"
src="$work/mmcv-$VERSION"
sed -i 's/-std=c++14/-std=c++20/g; s/-std=c++17/-std=c++20/g' "$src/setup.py"

# Build tools go to a private prefix so the venv keeps its own setuptools.
tools="$work/buildtools"
pip_q install --target "$tools" "setuptools<70" wheel ninja
log "compiling mmcv ops (CPU only; this takes a while)"
start=$(date +%s)
(
  cd "$src"
  PYTHONPATH="$tools" PATH="$tools/bin:$PATH" MMCV_WITH_OPS=1 FORCE_CUDA=0 \
    MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
    "$VENV/bin/python" -m pip --disable-pip-version-check wheel -q \
      --no-build-isolation --no-deps -w "$CACHE" . \
      2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
)
log "built in $(( $(date +%s) - start )) s"
built=("$CACHE"/mmcv-"$VERSION"-*.whl)
printf '%s\n' "${built[0]}"
