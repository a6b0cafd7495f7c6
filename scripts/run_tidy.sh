#!/usr/bin/env bash
# clang-tidy (.clang-tidy: bugprone and performance checks, warnings are errors) over every non-test source, with
# the compile commands of a configured build. Usage: scripts/run_tidy.sh [BUILD_DIR] [JOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
jobs=${2:-$(nproc)}
[ -f "$build/compile_commands.json" ] || { echo "no $build/compile_commands.json: configure first" >&2; exit 1; }
# gcc's -Wno-restrict is unknown to clang; the generated sources (build folder) are not ours to lint.
run-clang-tidy -p "$build" -j "$jobs" -quiet -extra-arg=-Wno-unknown-warning-option \
  "$(pwd)/src/.*(?<!_test)\.cpp$" >"$build/clang-tidy.log" 2>&1 || {
  grep -E "(warning|error):" "$build/clang-tidy.log" | sed 's/\x1b\[[0-9;]*m//g' | sort -u | head -50
  echo "clang-tidy failed; the whole log is $build/clang-tidy.log" >&2
  exit 1
}
echo "clang-tidy: clean"
