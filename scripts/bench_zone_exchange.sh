#!/usr/bin/env bash
# Coupled zone simulations, measured (issue 19, traffic across zones): PARTIES zones in a ring exchange the vehicles
# crossing each border every step, in lockstep, over a real nats-server on loopback (`citybrain zones exchange`).
# Prints one JSON line per (parties, vehicles); the figures go in docs/BENCHMARKS.md.
# Usage: scripts/bench_zone_exchange.sh [STEPS]   (default 3000)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CITYBRAIN:-build/release/citybrain}
server=$(command -v nats-server || echo /usr/sbin/nats-server)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$server" -a 127.0.0.1 -p "$port" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 0.5
for parties in 2 4 8; do
  for vehicles in 0 50 500; do
    "$BIN" zones exchange --nats "nats://127.0.0.1:$port" --parties "$parties" --vehicles "$vehicles" \
      --steps "${1:-3000}"
  done
done
