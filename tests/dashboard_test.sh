#!/usr/bin/env bash
# The dashboard in a real browser: Debian's chromium driven by playwright-core (from npm, pinned by the lockfile).
# make deps installs chromium; npm ci installs playwright-core here on first use (it downloads no browser).
set -euo pipefail
BIN=$1
OUT=${2:-$(dirname "$BIN")}
HERE=$(cd "$(dirname "$0")/dashboard" && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "FAIL: $CHROMIUM is missing (make deps installs Debian's chromium)" >&2
  exit 1
fi
if [ ! -f "$HERE/node_modules/playwright-core/package.json" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi
CHROMIUM=$CHROMIUM node "$HERE/dashboard_test.mjs" "$BIN" "$OUT"
