#!/usr/bin/env bash
# Starts a real nats-server with JetStream (file storage in a temporary directory) on a free loopback port and runs
# a test binary against it with CB_NATS_URL set.
# Usage: tests/nats_test.sh path/to/test_binary
set -euo pipefail
test_bin=$1
server=$(command -v nats-server || ls /usr/bin/nats-server 2>/dev/null || true)
if [ -z "$server" ]; then
  echo "nats-server is missing (make deps installs the nats-server package)" >&2
  exit 1
fi
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$server" -a 127.0.0.1 -p "$port" -js -sd "$work/js" >"$work/server.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
  sleep 0.1
done
CB_NATS_URL="nats://127.0.0.1:$port" CB_TMP="$work" "$test_bin" || { echo "--- server log"; tail -n 20 "$work/server.log"; exit 1; }
