#!/usr/bin/env bash
# Build the wheelhouse a store's device is installed from, offline, by the Ansible role
# (footfall_edge_wheelhouse: docs/operator.md "Installing a store's device"):
#   OUT/wheels/*.whl   every package of requirements/device.lock (checked against its hashes) and
#                      footfall's own wheel built from this checkout
#   OUT/device.lock    the lock the device installs with --require-hashes
#   OUT/PLATFORM       the machine the wheels are for (uname -m: x86_64, aarch64); the role refuses
#                      a wheelhouse for another one
# Usage: bash scripts/wheelhouse.sh OUT [aarch64|x86_64]   (default: this machine's)
# The wheels come from PyPI (or pip's cache); the device needs no network. A Jetson's GPU build of ONNX
# Runtime is not on PyPI: an aarch64 wheelhouse runs the detector on the CPU (docs/operator.md).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: scripts/wheelhouse.sh OUT [aarch64|x86_64]}
ARCH=${2:-$(uname -m)}
PY=${PYTHON:-.venv/bin/python}
export PIP_DISABLE_PIP_VERSION_CHECK=1
mkdir -p "$OUT/wheels"
platform=()
if [ "$ARCH" != "$(uname -m)" ]; then
  platform=(--platform "manylinux_2_28_$ARCH" --platform "manylinux2014_$ARCH" --platform "manylinux_2_17_$ARCH"
            --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none)
fi
"$PY" -m pip download --quiet --no-deps --require-hashes --only-binary=:all: "${platform[@]}" \
  -r requirements/device.lock -d "$OUT/wheels"
rm -f "$OUT"/wheels/footfall-*.whl
# footfall is pure Python: one wheel serves every machine (built with .venv's locked setuptools)
"$PY" -m pip wheel --quiet --no-deps --no-build-isolation . -w "$OUT/wheels"
cp requirements/device.lock "$OUT/device.lock"
echo "$ARCH" > "$OUT/PLATFORM"
echo "wheelhouse: $(ls "$OUT/wheels" | wc -l) wheels for $ARCH in $OUT ($(du -sh "$OUT" | cut -f1))"
