#!/usr/bin/env bash
# Throughput of a city of zones on this machine: nats-server with JetStream (file storage), N zone nodes, and one
# publisher that publishes COUNT reports as fast as JetStream acknowledges them. Prints the publisher's
# acknowledged reports/s, and the end-to-end rate: reports committed to the zone stores per second, from the
# first publish to the last commit (the newest receipt time in the zone stores). The backlog is polled only once a
# second: each `zones status` is a process, and polling faster takes a core from the nodes on a 2-core machine.
# Usage: [UNITS=K] scripts/bench_zones.sh [COUNT] [NODES] [ZONES]   (defaults 100000 3 6; K units per zone, 0: no
# dispatch, so no filing either)
set -euo pipefail
count=${1:-100000}
nodes=${2:-3}
zones=${3:-6}
bin=${CITYBRAIN:-build/release/citybrain}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="nats://127.0.0.1:$port"
nats-server -a 127.0.0.1 -p "$port" -js -sd "$work/js" >"$work/nats.log" 2>&1 &
pids=($!)
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
sleep 1
"$bin" zones partition --zones "$zones" --units "${UNITS:-0}" --out "$work/z.json"
for i in $(seq "$nodes"); do
  "$bin" zones node --zones "$work/z.json" --nats "$url" --node "n$i" --data "$work/data" >/dev/null 2>"$work/n$i.log" &
  pids+=($!)
done
sleep 3
start_ms=$(date +%s%3N)
"$bin" zones publish --zones "$work/z.json" --nats "$url" --count "$count" --prefix bench
while :; do
  state=$("$bin" zones status --zones "$work/z.json" --nats "$url" --json)
  left=$(echo "$state" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(sum(z["pending"]+z["unacked"] for z in s["zones"]))')
  [ -n "${VERBOSE:-}" ] && echo "$state"
  [ "$left" = 0 ] && break
  sleep "${POLL_S:-1}"
done
python3 - "$work/data" "$start_ms" "$count" "$nodes" "$zones" <<'PY'
import glob, sqlite3, sys
data, start_ms, count, nodes, zones = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
last, rows = 0, 0
for path in glob.glob(data + "/*.db"):
    db = sqlite3.connect(path)
    n, newest = db.execute("SELECT COUNT(*), MAX(received_ms) FROM reports").fetchone()
    rows += n
    last = max(last, newest or 0)
    db.close()
s = (last - start_ms) / 1000
print(f"end to end: {rows} of {count} reports committed in {s:.2f} s = {rows / s:.0f}/s ({nodes} nodes, {zones} zones)")
PY
