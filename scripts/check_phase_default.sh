#!/usr/bin/env bash
# Max-pressure over its default phase set against the roadnet's own plan, on every CityFlow dataset in
# ../shared/data/traffic (one simulated hour each). Prints a Markdown table and exits 1 if the default is worse
# than the own plan anywhere. Usage: scripts/check_phase_default.sh [DATA_DIR]   (needs ./bin/citybrain)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/data}/traffic
bin=$root/bin/citybrain
[ -x "$bin" ] || { echo "build first: make build" >&2; exit 2; }
att() { "$bin" traffic run --json --quiet "$@" 2>/dev/null | python3 -c "import json,sys; print(f\"{json.load(sys.stdin)['att_s']:.1f}\")"; }
worse=0
echo "| flow | own plan ATT s | max-pressure, default phases | max-pressure, phases 1-4 |"
echo "|---|---|---|---|"
for roadnet in "$data"/*/roadnet*.json; do
  dir=$(dirname "$roadnet")
  for flow in "$dir"/*.json; do
    [ "$flow" = "$roadnet" ] && continue
    own=$(att --roadnet "$roadnet" --flow "$flow" --controller own-plan)
    mp=$(att --roadnet "$roadnet" --flow "$flow" --controller maxpressure)
    mp4=$(att --roadnet "$roadnet" --flow "$flow" --controller maxpressure --phases 1,2,3,4)
    echo "| $(basename "$dir")/$(basename "$flow" .json) | $own | $mp | $mp4 |"
    python3 -c "import sys; sys.exit(0 if $mp <= $own else 1)" || worse=1
  done
done
exit $worse
