#!/usr/bin/env bash
# Throughput of a city of zones on this machine: nats-server with JetStream (file storage), N zone nodes, and one
# publisher that publishes COUNT reports as fast as JetStream acknowledges them. Prints the publisher's
# acknowledged reports/s, and the end-to-end rate: reports committed to the zone stores per second, from the
# first publish to the moment every zone's backlog is empty.
# Usage: scripts/bench_zones.sh [COUNT] [NODES] [ZONES]   (defaults 100000 3 6)
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
"$bin" zones partition --zones "$zones" --out "$work/z.json"
for i in $(seq "$nodes"); do
  "$bin" zones node --zones "$work/z.json" --nats "$url" --node "n$i" --data "$work/data" >/dev/null 2>"$work/n$i.log" &
  pids+=($!)
done
sleep 3
start=$(date +%s.%N)
"$bin" zones publish --zones "$work/z.json" --nats "$url" --count "$count" --prefix bench
while :; do
  left=$("$bin" zones status --zones "$work/z.json" --nats "$url" --json |
    python3 -c 'import json,sys; s=json.load(sys.stdin); print(sum(z["pending"]+z["unacked"] for z in s["zones"]))')
  [ "$left" = 0 ] && break
  sleep 0.2
done
end=$(date +%s.%N)
python3 -c "print(f'end to end: $count reports committed in {$end-$start:.2f} s = {$count/($end-$start):.0f}/s ($nodes nodes, $zones zones)')"
