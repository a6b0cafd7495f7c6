#!/usr/bin/env bash
# Starts a real mosquitto broker on a free loopback port and runs the fleet protocol tests against it.
# The broker keeps its default per-client queue (max_queued_messages 1000), so a burst overflows it and the
# protocol's retries have to make up for what it drops.
# Usage: tests/mqtt_test.sh path/to/fleet_mqtt_test
set -euo pipefail
test_bin=$1
broker=$(command -v mosquitto || ls /usr/sbin/mosquitto 2>/dev/null || true)
if [ -z "$broker" ]; then
  echo "mosquitto is missing (make deps installs the mosquitto package)" >&2
  exit 1
fi
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
# Small on purpose: a slow consumer overflows it and the broker drops orders, which retries must recover.
max_queued_messages 200
log_dest file $work/broker.log
CONF
[ "$(id -u)" = 0 ] && echo "user root" >>"$work/mosquitto.conf"
"$broker" -c "$work/mosquitto.conf" &
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
CB_MQTT_PORT=$port "$test_bin" || { echo "--- broker log"; tail -n 20 "$work/broker.log"; exit 1; }
grep -c "dropped\|Outgoing messages are being dropped" "$work/broker.log" | sed 's/^/broker drop warnings: /' || true
