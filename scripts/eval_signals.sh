#!/usr/bin/env bash
# Signal control on every traffic dataset (issue 18): fixed-time, the roadnet's own plan, SOTL, max-pressure,
# advanced-mp, the learned policy and predictive control (`--controller auto`), one simulated hour each, ATT as
# CityFlow defines it. advanced-mp's and predictive's constants were chosen, and the learned policy trained
# (scripts/train_signals.sh), on the flows marked "train" only; the others are held out. Prints a Markdown table.
# Usage: scripts/eval_signals.sh [DATA_DIR]   (needs ./bin/citybrain: `make build`)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/data}/traffic
bin=$root/bin/citybrain
[ -x "$bin" ] || { echo "build first: make build" >&2; exit 2; }
# The flows marked "train" are those the shipped policy says it was trained on (scripts/train_signals.sh writes them).
train=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["trained_on"].split(" (")[0].replace(",", ""))' \
  "$root/config/traffic/signal_policy.json")

row() {  # label split args...
  local label=$1 split=$2
  shift 2
  "$bin" traffic compare "$@" --controllers own-plan,sotl,maxpressure,advanced-mp,learned,auto --json --quiet 2>/dev/null |
    python3 -c '
import json, sys
label, split = sys.argv[1], sys.argv[2]
runs = {r["controller"]: r for r in json.load(sys.stdin)["runs"]}
att = {k: v["att_s"] for k, v in runs.items()}
a, mp = att["auto"], att["maxpressure"]
cells = " | ".join(f"{att[k]:.1f}" for k in ("fixed", "own-plan", "sotl", "maxpressure", "advanced-mp", "learned", "auto"))
ok = "yes" if a <= 0.9 * mp and a <= att["sotl"] and a <= att["own-plan"] else "no"
t, d = runs["auto"]["throughput"], runs["auto"]["avg_delay_s"]
tm, dm = runs["maxpressure"]["throughput"], runs["maxpressure"]["avg_delay_s"]
print(f"| {label} | {split} | {cells} | {100 * (a / mp - 1):+.1f} % | {tm} / {t} | {dm:.1f} / {d:.1f} | {ok} |", flush=True)
' "$label" "$split"
}

echo "| scenario | flows | fixed | own plan | SOTL | max-pressure | advanced-mp | learned | predictive (auto) | auto vs max-pressure | throughput MP / auto | delay s MP / auto | target met |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for set in jinan_3x4 hangzhou_4x4 shenzhen_fuhua; do
  [ -d "$data/$set" ] || continue
  roadnet=$(ls "$data/$set"/roadnet*.json)
  for flow in "$data/$set"/*.json; do
    [ "$flow" = "$roadnet" ] && continue
    split=held-out
    [[ " $train " == *" $(basename "$flow") "* ]] && split=train
    row "$set/$(basename "$flow" .json)" "$split" --roadnet "$roadnet" --flow "$flow"
  done
done
stem=$data/hangzhou_4x4/sumo_libsignal/hangzhou_4x4_gudang_18041610_1h
[ -f "$stem.net.xml" ] && row "hangzhou_4x4 SUMO twin" train --sumo-net "$stem.net.xml" --sumo-routes "$stem.rou.xml"
cbe=$data/cbengine_kddcup2021
if [ -f "$cbe/roadnet_round2.txt" ]; then
  row "CBEngine warm-up" held-out --cbengine-roadnet "$cbe/roadnet_warm_up.txt" --cbengine-flow "$cbe/flow_warm_up_1000.txt"
  row "CBEngine round 2" held-out --cbengine-cfg "$cbe/simulator_round2.cfg" --threads 2
fi
