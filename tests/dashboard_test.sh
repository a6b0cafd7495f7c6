#!/usr/bin/env bash
# The dashboard in a real browser: Debian's chromium driven by playwright-core (from npm, pinned by the lockfile).
# make deps installs chromium; npm ci installs playwright-core here on first use (it downloads no browser).
# Usage: tests/dashboard_test.sh CITYBRAIN [OUT_DIR] [SCRIPT]   (SCRIPT: dashboard_test.mjs, or another test there)
set -euo pipefail
BIN=$1
OUT=${2:-$(dirname "$BIN")}
HERE=$(cd "$(dirname "$0")/dashboard" && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "FAIL: $CHROMIUM is missing (make deps installs Debian's chromium)" >&2
  exit 1
fi
SCRIPT=${3:-dashboard_test.mjs}
# One install, even when two browser tests start at once (ctest runs two at a time).
(
  flock 9
  if [ ! -f "$HERE/node_modules/playwright-core/package.json" ]; then
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
  fi
) 9>"$HERE/.npm-install.lock"
CHROMIUM=$CHROMIUM node "$HERE/$SCRIPT" "$BIN" "$OUT"
