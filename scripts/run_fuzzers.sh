#!/usr/bin/env bash
# Runs each libFuzzer target for a short time (CI) from a seed corpus made of the test scenarios.
# Usage: scripts/run_fuzzers.sh BUILD_DIR SECONDS
set -euo pipefail
build=${1:-build/fuzz}
seconds=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/roadnet" "$work/flow"
cp "$root/tests/scenarios/tiny/roadnet.json" "$work/roadnet/"
cp "$root/tests/scenarios/tiny/flow.json" "$work/flow/"
echo '[{"vehicle":{"length":5,"width":2,"maxPosAcc":2,"maxNegAcc":4.5,"usualPosAcc":2,"usualNegAcc":4.5,"minGap":2.5,"maxSpeed":11,"headwayTime":2},"route":["road_0_1_0","road_1_1_0","road_2_1_0"],"interval":5,"startTime":0,"endTime":30}]' >"$work/flow/grid.json"
for target in roadnet flow; do
  echo "fuzzing ${target}_fuzz for ${seconds}s"
  "$build/fuzz/${target}_fuzz" -artifact_prefix="$build/" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$work/$target" 2>&1 | tail -n 3
done
