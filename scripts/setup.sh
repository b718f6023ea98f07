#!/usr/bin/env bash
# Set up footfall on a fresh machine: the edge/server virtual environment (.venv), the training
# environment (.venv-train), the Label Studio server's (.venv-labelstudio), and the default models.
# Idempotent: a second run only checks. Needs Python 3.11 and the package registries; model weights
# come from $FOOTFALL_DATA (default ../shared/data), never from the internet.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
DATA=${FOOTFALL_DATA:-../shared/data}
VENV=.venv
export PIP_DISABLE_PIP_VERSION_CHECK=1

# Each environment is installed from its lock (requirements/*.lock): every package pinned, every file
# checked against its SHA-256, nothing resolved at install time. scripts/lock.sh writes the locks (the
# environment traps, e.g. torch pinned first, yolov5 and label-studio-sdk without their own pins, are
# resolved there); tests/test_locks.py checks that they agree with pyproject.toml.
install_locked() {  # VENV LOCK
  local venv=$1 lock=$2 stamp="$1/.footfall-installed" want
  want="$(sha256sum requirements/pip.lock "$lock" pyproject.toml | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  if [ -d "$venv" ] && [ ! -f "$venv/.footfall-locked" ]; then
    rm -rf "$venv"  # built before the locks: start clean, so that it holds exactly the lock
  fi
  [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
  touch "$venv/.footfall-locked"
  "$venv/bin/python" -m pip install -q --no-deps --require-hashes -r requirements/pip.lock
  "$venv/bin/python" -m pip install -q --no-deps --require-hashes -r "$lock"
  if [ "$venv" = "$VENV" ]; then
    # footfall itself, editable, built with the locked setuptools (no unpinned build environment)
    "$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
  fi
  echo "$want" > "$stamp"
}

# .venv: the edge, registry, retrain orchestration, dashboard, Label Studio client and the tests.
install_locked "$VENV" requirements/edge.lock
# .venv-train: yolov5 7.0.14's train.py with its own pins (huggingface-hub<0.25, which the edge's boxmot
# cannot live with). A training server is another machine; here it is a second environment, which
# retrain.trainer runs with PYTHONPATH set to this checkout.
TRAIN_VENV=.venv-train
install_locked "$TRAIN_VENV" requirements/train.lock
# .venv-labelstudio: the annotators' server (the tests start it on 127.0.0.1); it pins Django.
LS_VENV=.venv-labelstudio
install_locked "$LS_VENV" requirements/labelstudio.lock

# apt_install WHY PACKAGE...: Debian packages some tests need, installed when missing.
apt_install() {
  local why="$1"; shift
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q "$@" >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "$@" >/dev/null; } \
    || echo "setup: could not install $*; $why" >&2
}

# Debian's Chromium for the dashboard's browser tests (Playwright drives /usr/bin/chromium; it never
# downloads a browser of its own).
command -v chromium >/dev/null 2>&1 \
  || apt_install "the dashboard browser tests need /usr/bin/chromium" chromium

# Debian's PostgreSQL server binaries for the chain's central store: the tests and benchmarks start
# private servers of their own (footfall.central.pgserver); no cluster is created or started here.
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
  || apt_install "the central store tests need /usr/lib/postgresql/*/bin" postgresql

# GStreamer's RTSP server, run by the system Python (python3-gi), for the tests and benchmarks that
# serve the sample videos as live H.264 camera streams (tests/rtsp_server.py).
/usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer" \
  >/dev/null 2>&1 && gst-inspect-1.0 x264enc >/dev/null 2>&1 \
  || apt_install "the RTSP camera tests need GStreamer's RTSP server" --no-install-recommends python3-gi \
    gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly \
    gstreamer1.0-tools

mkdir -p models
if [ ! -f models/yolov5n.onnx ]; then
  if [ ! -f "$DATA/weights/yolov5n.pt" ]; then
    echo "setup: $DATA/weights/yolov5n.pt not found; set FOOTFALL_DATA or export a model with 'footfall edge export-onnx'" >&2
    exit 1
  fi
  "$VENV/bin/footfall" edge export-onnx --weights "$DATA/weights/yolov5n.pt" --out models/yolov5n.onnx
fi
if [ ! -f models/osnet_x0_25_msmt17.onnx ] && [ -f "$DATA/reid/osnet_x0_25_msmt17.pt" ]; then
  "$VENV/bin/footfall" edge export-reid --weights "$DATA/reid/osnet_x0_25_msmt17.pt" --out models/osnet_x0_25_msmt17.onnx
fi
echo "setup: ok ($VENV, $TRAIN_VENV, $LS_VENV, models/)"
