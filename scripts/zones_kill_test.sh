#!/usr/bin/env bash
# Randomised kill tests of a city of zones (issue 19's target: zero loss and zero duplicates across 20): the e2e
# scenario of tests/zones_test.py, then ROUNDS rounds in which a random node or nats-server (or, with STORE=pg,
# PostgreSQL) is killed with SIGKILL in the middle of a load and restarted. Kept out of CI (about 10 s a round);
# the figures go in docs/BENCHMARKS.md.
# Usage: [STORE=sqlite|pg] scripts/zones_kill_test.sh [ROUNDS] [SEED]   (defaults 20 1, sqlite)
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 tests/zones_test.py "${CITYBRAIN:-build/release/citybrain}" --store "${STORE:-sqlite}" \
  --rounds "${1:-20}" --seed "${2:-1}"
