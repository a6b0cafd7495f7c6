#!/usr/bin/env bash
# Whole-run benchmark of the traffic engine: one simulated hour on every dataset in ../shared/data/traffic under
# the reference protocol (own plan; fixed 15 s and 30 s per phase = 10 s / 25 s green + 5 s yellow; max-pressure
# with 15 s actions and 5 s yellow), plus a generated 30x30 grid for scale. Prints a Markdown table:
# wall time and peak RSS from /usr/bin/time, ATT and vehicle-updates/s from `citybrain traffic run --json`.
# Usage: scripts/bench_traffic.sh [DATA_DIR]   (needs ./bin/citybrain: `make build`)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/data}/traffic
bin=$root/bin/citybrain
[ -x "$bin" ] || { echo "build first: make build" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

row() {  # label roadnet flow args...
  local label=$1 roadnet=$2 flow=$3
  shift 3
  /usr/bin/time -f "%e %M" -o "$tmp/time" "$bin" traffic run --roadnet "$roadnet" --flow "$flow" --json --quiet "$@" >"$tmp/out"
  python3 - "$label" "$tmp/out" "$tmp/time" <<'PY'
import json, sys
label, out, tm = sys.argv[1:]
d = json.load(open(out)); wall, rss = open(tm).read().split()
print(f"| {label} | {d['spawned']} | {d['att_s']:.1f} | {d['throughput']} | {d['wall_s']:.3f} | {float(wall):.2f} | "
      f"{d['vehicle_updates_per_s']/1e6:.1f} | {int(rss)/1024:.0f} |")
PY
}

echo "| run | vehicles | ATT s | throughput | sim wall s | process wall s | M veh-updates/s | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|"
for set in jinan_3x4 hangzhou_4x4 shenzhen_fuhua; do
  [ -d "$data/$set" ] || { echo "| $set | missing: $data/$set |||||||"; continue; }
  roadnet=$(ls "$data/$set"/roadnet*.json)
  phases="--phases 1,2,3,4"
  [ "$set" = shenzhen_fuhua ] && phases=""
  for flow in "$data/$set"/*.json; do
    [ "$flow" = "$roadnet" ] && continue
    name="$set/$(basename "$flow" .json)"
    row "$name own-plan" "$roadnet" "$flow" --controller own-plan
    row "$name fixed 15 s" "$roadnet" "$flow" --controller fixed --green 10 $phases
    row "$name fixed 30 s" "$roadnet" "$flow" --controller fixed --green 25 $phases
    row "$name max-pressure" "$roadnet" "$flow" --controller maxpressure $phases
  done
done
"$bin" traffic generate --rows 30 --cols 30 --vehicles-per-hour 120000 --duration 3600 --peak-ratio 1 --seed 1 \
  --out-roadnet "$tmp/grid.json" --out-flow "$tmp/grid_flow.json" >/dev/null
row "grid 30x30 max-pressure, 1 thread" "$tmp/grid.json" "$tmp/grid_flow.json" --controller maxpressure
row "grid 30x30 max-pressure, 2 threads" "$tmp/grid.json" "$tmp/grid_flow.json" --controller maxpressure --threads 2
