#!/usr/bin/env bash
# A partition between a zone node and the bus made with network namespaces (node b in a namespace of its own, its
# veth link taken down mid-load): tests/zones_netns_test.py. Needs root for `ip netns`, so kept out of `make test`
# (ctest's zones_pg_e2e makes the same partition with a relay); skips with a message where namespaces cannot be made.
# Usage: scripts/zones_netns_test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 tests/zones_netns_test.py "${CITYBRAIN:-build/release/citybrain}"
