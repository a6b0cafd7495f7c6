#!/usr/bin/env bash
# Incident engine benchmarks: in-process intake (Google Benchmark), HTTP with keep-alive under wrk, and the 311
# replays. Figures go to docs/BENCHMARKS.md by hand, with the machine they ran on.
# Usage: scripts/bench_incidents.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build/release}
root=$(cd "$(dirname "$0")/.." && pwd)
data=${CB_DATA_DIR:-$root/../shared/data}
bin=$build/citybrain
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== in-process intake (validate + route + de-duplicate + persist, SQLite WAL synchronous=FULL)"
"$build/bench/incident_benchmark" --benchmark_filter='^BM_IngestBatch/|^BM_IntakeQueue/' 2>&1 | grep -E '^BM_'

echo "== HTTP, keep-alive, 64 connections, wrk on the same 2-core machine"
key=bench-key-0123456789abcdef
CITYBRAIN_API_KEYS=$key "$bin" serve --port 0 --db "$work/bench.db" 2>"$work/serve.log" &
server_pid=$!
for _ in $(seq 50); do grep -q open311 "$work/serve.log" && break; sleep 0.1; done
port=$(sed -n 's/.*:\([0-9]*\)\/open311.*/\1/p' "$work/serve.log" | head -n 1)
url=http://127.0.0.1:$port
for what in "POST requests (intake):-s $root/scripts/wrk_post.lua $url/" \
            "GET requests/{id}:$url/open311/v2/requests/1.json" \
            "GET services:$url/open311/v2/services.json"; do
  name=${what%%:*}
  args=${what#*:}
  echo "-- $name"
  # shellcheck disable=SC2086
  CITYBRAIN_BENCH_KEY=$key wrk -t1 -c64 -d10s --latency $args | grep -E 'Requests/sec|  50%|  99%|Non-2xx|errors'
done
kill "$server_pid"
wait "$server_pid" || true
server_pid=""

echo "== replays (with the lifecycle from each export's Closed Date)"
for f in nyc311_sample/nyc311_2023-02_sample5k.csv la311_sample/MyLA311_Service_Request_Data_2017_Subset.csv \
         la311_sample/la311_2020_requests_seed.csv; do
  if [ -f "$data/incidents/$f" ]; then
    "$bin" incidents replay "$data/incidents/$f" --json >"$work/replay.json"
    python3 - "$work/replay.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
line = "%s: %d reports, %d cases, %d merged, %d escalated, %.2f s" % (
    r["file"].split("/")[-1], r["reports"], r["cases"], r["duplicates_merged"], r["escalated"], r["wall_s"])
e = r.get("dedup_eval")
if e:
    line += ", dedup precision %.3f recall %.3f (labelled %d)" % (e["precision"], e["recall"], e["labelled_duplicates"])
print(line)
PY
  else
    echo "skipped: $data/incidents/$f is missing"
  fi
done
