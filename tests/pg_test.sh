#!/usr/bin/env bash
# Starts a real PostgreSQL on loopback in a scratch directory and runs the store conformance suite against it.
# Usage: tests/pg_test.sh path/to/test_binary [GTEST_FILTER] (default: the store conformance suite)
set -euo pipefail
test_bin=$1
filter=${2:-'Stores/StoreTest.*/postgresql'}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ]; then
  echo "PostgreSQL server binaries are missing (make deps installs the postgresql package)" >&2
  exit 1
fi
work=$(mktemp -d)
chmod 755 "$work"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$work"  # initdb refuses to run as root
  as_pg=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"${as_pg[@]}" "$pg_bin/initdb" -D "$work/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/data" -l "$work/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $work -c fsync=on" start >/dev/null
"${as_pg[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres citybrain
out=$(CITYBRAIN_PG_URL="postgresql://postgres@127.0.0.1:$port/citybrain" "$test_bin" \
      --gtest_filter="$filter" 2>&1) || { echo "$out"; exit 1; }
echo "$out"
# Guard against a filter that matches nothing, or tests that skipped: both would pass silently.
grep -q 'PASSED  \] [1-9][0-9]* test' <<<"$out" && ! grep -q 'SKIPPED' <<<"$out"
