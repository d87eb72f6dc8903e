#!/usr/bin/env bash
# Idempotent environment setup for mmeff: system libraries for FFCV, a virtual
# environment in the repo (.venv) with the pinned stack, and mmeff in editable
# mode with its dev extras. A second run only checks a stamp and returns.
#
#   --downstream  also MMDetection 3.3 / MMSegmentation 1.2 (the [downstream]
#                 extra) and a full mmcv 2.1.0 with compiled CPU ops in place
#                 of mmcv-lite (tools/build_mmcv.sh: ~13 min once, then cached)
set -euo pipefail

DOWNSTREAM=0
for arg in "$@"; do
  case "$arg" in
    --downstream) DOWNSTREAM=1 ;;
    *) printf 'setup_env: unknown option %s (known: --downstream)\n' "$arg" >&2
       exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMEFF_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

# FFCV builds against OpenCV and libjpeg-turbo; mmeff's ESSL crop decoder
# against OpenCV and libjpeg-turbo's libjpeg API (libjpeg62-turbo-dev); the
# bundled default data set (Fashion-MNIST) is Debian's dataset-fashion-mnist.
SYSTEM_PKGS=(libopencv-dev libturbojpeg0-dev libjpeg62-turbo-dev pkg-config
             dataset-fashion-mnist)
# torch/torchvision pins match the wheels on this machine kind's local store;
# any other pin downloads several GB.
STACK=(
  "torch==2.14.1" "torchvision==0.29.1"
  "setuptools<81" "wheel" "numpy<2.3"
  "mmengine==0.10.7" "mmpretrain==1.2.0" "timm>=1.0,<2"
)
FFCV="ffcv==1.0.2"
MMCV_LITE="mmcv-lite==2.1.0"

log() { printf '[setup] %s\n' "$*" >&2; }

missing_system_pkgs() {
  local p
  for p in "${SYSTEM_PKGS[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || printf '%s ' "$p"
  done
}

need="$(missing_system_pkgs)"
if [ -n "$need" ]; then
  log "installing system packages: $need"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi

# The stamps cover everything that decides the environment's contents; the
# downstream stamp is kept apart so a core-only run does not undo it.
stamp_src="$(cat "$ROOT/tools/setup_env.sh" "$ROOT/pyproject.toml" \
  "$ROOT/setup.py" "$ROOT/mmeff/data/essl/_essl_decode.cpp")"
stamp="$(printf '%s' "$stamp_src" | sha256sum | cut -d' ' -f1)"
down_stamp="$(printf '%s %s' "$stamp" "$(cat "$ROOT/tools/build_mmcv.sh")" \
  | sha256sum | cut -d' ' -f1)"
up_to_date() {
  [ -f "$VENV/.mmeff-setup" ] && [ "$(cat "$VENV/.mmeff-setup")" = "$stamp" ] \
    || return 1
  if [ "$DOWNSTREAM" = 1 ]; then
    [ -f "$VENV/.mmeff-setup-downstream" ] \
      && [ "$(cat "$VENV/.mmeff-setup-downstream")" = "$down_stamp" ] \
      && "$VENV/bin/python" -c "import mmcv.ops, mmdet, mmseg" >/dev/null 2>&1 \
      || return 1
  fi
  "$VENV/bin/python" -c "import mmeff, mmeff.data.essl._lib" >/dev/null 2>&1
}
if up_to_date; then
  log "environment up to date: $VENV"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  "$PY" -m venv "$VENV"
fi
# pip warns about every local index location it skips; keep real messages.
pip_install() {
  "$VENV/bin/python" -m pip --disable-pip-version-check install -q "$@" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
log "installing the pinned stack (torch, mmengine, mmpretrain, timm)"
pip_install "${STACK[@]}"

# Either full mmcv (for mmdet/mmseg) or mmcv-lite works; add lite only if none
# is importable and the full one is not about to be installed.
if [ "$DOWNSTREAM" != 1 ] && ! "$VENV/bin/python" -c "import mmcv" >/dev/null 2>&1; then
  log "installing $MMCV_LITE"
  pip_install "$MMCV_LITE"
fi

if ! "$VENV/bin/python" -c "import ffcv" >/dev/null 2>&1; then
  log "building $FFCV against the system libjpeg-turbo / OpenCV"
  pip_install --no-build-isolation "$FFCV"
fi

extras="dev,ffcv"
if [ "$DOWNSTREAM" = 1 ]; then
  extras="dev,ffcv,downstream"
  if ! "$VENV/bin/python" -c "import mmcv.ops" >/dev/null 2>&1; then
    wheel="$(MMEFF_VENV="$VENV" bash "$ROOT/tools/build_mmcv.sh")"
    log "replacing mmcv-lite by full mmcv ($wheel)"
    "$VENV/bin/python" -m pip --disable-pip-version-check uninstall -q -y \
      mmcv-lite mmcv >/dev/null 2>&1 || true
    pip_install "$wheel"
  fi
fi
log "installing mmeff (editable, $extras extras; builds the ESSL crop decoder)"
pip_install --no-build-isolation -e "$ROOT[$extras]"
printf '%s' "$stamp" > "$VENV/.mmeff-setup"
[ "$DOWNSTREAM" = 1 ] && printf '%s' "$down_stamp" > "$VENV/.mmeff-setup-downstream"
log "done: $VENV"
