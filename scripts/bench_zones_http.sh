#!/usr/bin/env bash
# The city's HTTP intake under load: nats-server with JetStream, NODES zone nodes each serving the intake, and one
# wrk per node posting reports (POST /api/v1/reports, answered once JetStream has stored the report) for SECONDS.
# Prints wrk's figures per node, then waits until the zones have filed everything and counts the stored reports
# (every 2xx answer must be in a zone store). Each node also writes its access log (a line per request) to its
# log file, as it would in service. Needs wrk (Debian's package). Kept out of CI.
# Usage: scripts/bench_zones_http.sh [SECONDS] [CONNECTIONS_PER_NODE] [NODES]   (defaults 10 32 3)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
conns=${2:-32}
nodes=${3:-3}
bin=${CITYBRAIN:-build/release/citybrain}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="nats://127.0.0.1:$port"
server=$(command -v nats-server || echo /usr/sbin/nats-server)
"$server" -a 127.0.0.1 -p "$port" -js -sd "$work/js" >"$work/nats.log" 2>&1 &
pids=($!)
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
sleep 1
"$bin" zones partition --zones 6 --out "$work/z.json"
export CITYBRAIN_API_KEYS=bench-key-0123456789abcdef
for i in $(seq "$nodes"); do
  "$bin" zones node --zones "$work/z.json" --nats "$url" --node "n$i" --data "$work/data" --port 0 \
    >/dev/null 2>"$work/n$i.log" &
  pids+=($!)
done
sleep 4
wrks=()
for i in $(seq "$nodes"); do
  p=$(grep -o 'serves http://127.0.0.1:[0-9]*' "$work/n$i.log" | grep -o '[0-9]*$')
  wrk -t 1 -c "$conns" -d "${seconds}s" --latency -s scripts/bench/zones_post.lua "http://127.0.0.1:$p" \
    >"$work/wrk$i.txt" 2>&1 &
  wrks+=($!)
done
wait "${wrks[@]}"
total=0
for i in $(seq "$nodes"); do
  echo "--- node n$i"
  grep -E "Requests/sec|Non-2xx|50%|99%|requests in" "$work/wrk$i.txt"
  r=$(grep -o '[0-9]* requests in' "$work/wrk$i.txt" | grep -o '^[0-9]*')
  total=$((total + r))
done
while :; do
  left=$("$bin" zones status --zones "$work/z.json" --nats "$url" --json |
    python3 -c 'import json,sys; s=json.load(sys.stdin); print(sum(z["pending"]+z["unacked"] for z in s["zones"]))')
  [ "$left" = 0 ] && break
  sleep 1
done
stored=$(python3 -c '
import glob, sqlite3, sys
print(sum(sqlite3.connect(p).execute("SELECT COUNT(*) FROM reports").fetchone()[0] for p in glob.glob(sys.argv[1] + "/*.db")))' "$work/data")
echo "answered $total requests in ${seconds} s over $nodes nodes = $((total / seconds))/s; stored $stored"
