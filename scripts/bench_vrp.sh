#!/usr/bin/env bash
# Solomon VRPTW benchmark: `citybrain dispatch vrp` on every instance, gap to the distance-only best known.
# Usage: scripts/bench_vrp.sh [TIME_LIMIT_S] [JOBS]   (defaults 2 s, 1 job at a time: timings are per core)
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-2}
jobs=${2:-1}
data=../shared/data/dispatch/solomon
[[ -d $data ]] || { echo "skipped: $data is missing"; exit 0; }
bin=./bin/citybrain
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ls "$data"/[CR]*.txt | xargs -P "$jobs" -I{} sh -c "$bin dispatch vrp {} --time-limit $limit --json > $out/\$(basename {} .txt).json"
python3 - "$out" "$data/BKS_VRPTW.json" "$limit" <<'PY'
import json, os, sys, statistics
out, bks_path, limit = sys.argv[1], sys.argv[2], sys.argv[3]
bks = json.load(open(bks_path))
rows = []
for f in sorted(os.listdir(out)):
    r = json.load(open(os.path.join(out, f)))
    name = f[:-5]
    best = bks[name + "_distance"]["best_known_cost"]
    rows.append((name, r["distance"], best, 100 * (r["distance"] - best) / best, r["vehicles"], r["unassigned"], r["wall_s"]))
print(f"| instance | distance | best known (distance) | gap % | vehicles | unassigned | wall s |")
print(f"|---|---:|---:|---:|---:|---:|---:|")
for n, d, b, g, v, u, w in rows:
    print(f"| {n} | {d:.2f} | {b:.2f} | {g:+.2f} | {v} | {u} | {w:.2f} |")
for cls in ["C1", "C2", "R1", "R2", "RC1", "RC2"]:
    gs = [g for n, _, _, g, *_ in rows if n[:-2] == cls]
    print(f"{cls}: mean gap {statistics.mean(gs):+.2f} % over {len(gs)}")
gaps = [r[3] for r in rows]
print(f"ALL: mean gap {statistics.mean(gaps):+.2f} %, max {max(gaps):+.2f} %, unassigned {sum(r[5] for r in rows)}, "
      f"mean wall {statistics.mean(r[6] for r in rows):.2f} s, limit {limit} s, {len(rows)} instances")
PY
