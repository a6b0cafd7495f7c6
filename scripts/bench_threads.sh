#!/usr/bin/env bash
# One and two threads on every traffic dataset (issue 18): each run N times, alternating, because this 2-core VM's
# wall times swing by a third from run to run; prints the minimum and median simulation wall time per thread
# count, the ratio of the minima, and whether the state hashes agree.
# Usage: scripts/bench_threads.sh [N] [DATA_DIR]   (needs ./bin/citybrain: `make build`)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-5}
data=${2:-$root/../shared/data}/traffic
bin=$root/bin/citybrain
[ -x "$bin" ] || { echo "build first: make build" >&2; exit 2; }

bench() {  # label args...
  local label=$1
  shift
  python3 - "$label" "$n" "$bin" "$@" <<'PY'
import json, statistics, subprocess, sys
label, n, binary, args = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
walls, hashes = {1: [], 2: []}, set()
for _ in range(n):
    for t in (1, 2):
        out = subprocess.run([binary, "traffic", "run", *args, "--threads", str(t), "--json", "--quiet"],
                             capture_output=True, text=True, check=True).stdout
        d = json.loads(out)
        walls[t].append(d["wall_s"])
        hashes.add(d["state_hash"])
m1, m2 = min(walls[1]), min(walls[2])
print(f"| {label} | {m1:.3f} | {statistics.median(walls[1]):.3f} | {m2:.3f} | {statistics.median(walls[2]):.3f} | "
      f"{m1 / m2:.2f} | {'yes' if len(hashes) == 1 else 'NO'} |", flush=True)
PY
}

echo "| scenario (max-pressure, 3,600 steps) | 1 thread min s | median | 2 threads min s | median | speed-up (minima) | same state hash |"
echo "|---|---|---|---|---|---|---|"
for set in jinan_3x4 hangzhou_4x4 shenzhen_fuhua; do
  [ -d "$data/$set" ] || continue
  roadnet=$(ls "$data/$set"/roadnet*.json)
  for flow in "$data/$set"/*.json; do
    [ "$flow" = "$roadnet" ] && continue
    bench "$set/$(basename "$flow" .json)" --roadnet "$roadnet" --flow "$flow"
  done
done
cbe=$data/cbengine_kddcup2021
if [ -f "$cbe/roadnet_round2.txt" ]; then
  bench "CBEngine warm-up (36 intersections)" --cbengine-roadnet "$cbe/roadnet_warm_up.txt" --cbengine-flow "$cbe/flow_warm_up_1000.txt"
  bench "CBEngine round 2 (2,048 intersections, 126,669 vehicles)" --cbengine-cfg "$cbe/simulator_round2.cfg"
fi
