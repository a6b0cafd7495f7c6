#!/usr/bin/env bash
# Trains the learned signal policy shipped in config/traffic/signal_policy.json (issue 18): evolution strategies
# in our simulator on the three training flows only (one per city); every other flow is held out for
# scripts/eval_signals.sh. The same seed gives the same file. Takes a few minutes on two cores.
# Usage: scripts/train_signals.sh [OUT] [ITERATIONS] [SEED]   (needs ./bin/citybrain: `make build`)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=$root/../shared/data/traffic
out=${1:-$root/config/traffic/signal_policy.json}
bin=$root/bin/citybrain
[ -x "$bin" ] || { echo "build first: make build" >&2; exit 2; }
[ -d "$data" ] || { echo "no traffic data at $data" >&2; exit 2; }
"$bin" traffic train --threads 2 --iterations "${2:-150}" --pairs 8 --seed "${3:-1}" --out "$out" \
  --scenario "$data/jinan_3x4/roadnet_3_4.json,$data/jinan_3x4/anon_3_4_jinan_real.json" \
  --scenario "$data/hangzhou_4x4/roadnet_4_4.json,$data/hangzhou_4x4/anon_4_4_hangzhou_real.json" \
  --scenario "$data/shenzhen_fuhua/roadnet_1_33.json,$data/shenzhen_fuhua/fuhua_real_1775.json"
