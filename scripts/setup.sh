#!/usr/bin/env bash
# Set up footfall on a fresh machine: the edge/server virtual environment (.venv), the training
# environment (.venv-train) and the default models.
# Idempotent: a second run only checks. Needs Python 3.11 and the package registries; model weights
# come from $FOOTFALL_DATA (default ../shared/data), never from the internet.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
DATA=${FOOTFALL_DATA:-../shared/data}
VENV=.venv
export PIP_DISABLE_PIP_VERSION_CHECK=1

stamp="$VENV/.footfall-installed"
want="$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  # torch first, pinned: with no torch installed pip would otherwise pick a newer CUDA build.
  "$VENV/bin/pip" install -q torch==2.14.1 torchvision==0.29.1
  "$VENV/bin/pip" install -q -e ".[tracking,export,registry,retrain,labeling,dashboard,dev]"
  # yolov5 only for its model code (reading original .pt checkpoints, ONNX export). Its declared
  # dependencies pin huggingface-hub<0.25, which boxmot 25 cannot run with, hence --no-deps.
  "$VENV/bin/pip" install -q --no-deps yolov5==7.0.14
  # The Label Studio client (harvest, export): its own pins would replace opencv-python by
  # opencv-python-headless; what it imports comes from the 'labeling' extra above.
  "$VENV/bin/pip" install -q --no-deps label-studio-sdk==2.1.2
  echo "$want" > "$stamp"
fi

# The training environment: yolov5 7.0.14 with the pins its train.py needs (huggingface-hub<0.25,
# which the edge's boxmot cannot live with). A training server is a different machine; here it is a
# second virtual environment. retrain.trainer runs it with PYTHONPATH set to this checkout.
TRAIN_VENV=.venv-train
train_stamp="$TRAIN_VENV/.footfall-installed"
if [ ! -f "$train_stamp" ] || [ "$(cat "$train_stamp")" != "$want" ]; then
  [ -x "$TRAIN_VENV/bin/python" ] || "$PY" -m venv "$TRAIN_VENV"
  "$TRAIN_VENV/bin/pip" install -q --upgrade pip
  "$TRAIN_VENV/bin/pip" install -q torch==2.14.1 torchvision==0.29.1
  "$TRAIN_VENV/bin/pip" install -q yolov5==7.0.14 "huggingface-hub<0.25" "setuptools<81" "numpy<2.4"
  echo "$want" > "$train_stamp"
fi

# The Label Studio server (annotators' tool; the tests start it on 127.0.0.1): its own environment,
# as it pins Django and its SDK.
LS_VENV=.venv-labelstudio
ls_stamp="$LS_VENV/.footfall-installed"
if [ ! -f "$ls_stamp" ] || [ "$(cat "$ls_stamp")" != "$want" ]; then
  [ -x "$LS_VENV/bin/python" ] || "$PY" -m venv "$LS_VENV"
  "$LS_VENV/bin/pip" install -q --upgrade pip
  "$LS_VENV/bin/pip" install -q label-studio==1.23.2
  echo "$want" > "$ls_stamp"
fi

# Debian's Chromium for the dashboard's browser tests (Playwright drives /usr/bin/chromium; it never
# downloads a browser of its own).
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -q chromium >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null; } \
    || echo "setup: could not install Debian's chromium; the dashboard browser tests need /usr/bin/chromium" >&2
fi

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
