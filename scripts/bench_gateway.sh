#!/usr/bin/env bash
# The model gateway's overhead: the same open-loop load (fixed rate, keep-alive) straight at a fast upstream and
# through `citybrain gateway` in front of it, and one long stream relayed chunk by chunk. All on one machine, so the
# load, the gateway and the upstream share its cores. Figures go to docs/BENCHMARKS.md by hand.
# Usage: scripts/bench_gateway.sh [BUILD_DIR] [RATE] [SECONDS]
set -euo pipefail
build=${1:-build/release}
rate=${2:-1000}
seconds=${3:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/bench/gateway
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
read -r up gw < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
node "$here/upstream_fast.mjs" "$up" > "$work/up.out" &
pids+=($!)
cat > "$work/gateway.json" <<JSON
{"upstreams": [{"name": "fast", "url": "http://127.0.0.1:$up/v1", "models": ["*"], "timeout_s": 10, "max_concurrency": 512}]}
JSON
CITYBRAIN_GATEWAY_KEYS=bench-key-0001 "$build/citybrain" gateway --port "$gw" --config "$work/gateway.json" \
  --audit "$work/audit.db" --access-log '' ${GW_ARGS:-} > "$work/gw.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q ready "$work/up.out" && grep -q "gateway on" "$work/gw.out" && break; sleep 0.1; done
echo "== $rate requests/s for $seconds s (open loop), latency in ms"
echo -n "direct:  "; node "$here/load.mjs" latency "http://127.0.0.1:$up" x "$rate" "$seconds"
echo -n "gateway: "; node "$here/load.mjs" latency "http://127.0.0.1:$gw" bench-key-0001 "$rate" "$seconds"
echo "== one stream of 50,000 chunks"
echo -n "direct:  "; node "$here/load.mjs" stream "http://127.0.0.1:$up" x 50000
echo -n "gateway: "; node "$here/load.mjs" stream "http://127.0.0.1:$gw" bench-key-0001 50000
echo "audit rows: $(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from gateway_audit").fetchone()[0])' "$work/audit.db")"
