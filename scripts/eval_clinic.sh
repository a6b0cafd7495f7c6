#!/usr/bin/env bash
# The clinic's figures for docs/BENCHMARKS.md: 5-fold CV on each health dataset's training split with several fold
# seeds (the figure moves by about ±0.015 with the seed), and the embedded knowledge base on the same files. Not
# part of `make test` (it takes a few seconds, but its numbers are for the docs). Usage: scripts/eval_clinic.sh [SEEDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-"1 2 3 4 5"}
data=../shared/data/health
bin=./bin/citybrain
[ -x "$bin" ] || { echo "build first: make build" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# DXY's parents' words with the diseases' names masked: how much of what the text model reads is a name said aloud
# ("医生说是肺炎") rather than a description.
if [ -f "$data/dxy/train.json" ]; then
  /usr/bin/python3 - "$data/dxy/train.json" "$tmp/dxy_masked.json" <<'PY'
import json, re, sys
cases = json.load(open(sys.argv[1]))
for c in cases:
    c["self_report"] = re.sub("鼻炎|上呼吸道感染|上呼吸道|上感|肺炎|手足口病|手足口|支气管炎", "某病", c.get("self_report", ""))
json.dump(cases, open(sys.argv[2], "w"), ensure_ascii=False)
PY
fi
for run in "dxy" "dxy --no-text-model" "dxy_masked" "muzhi"; do
  read -r set flags <<<"$run"
  file=$data/$set/train.json
  [ "$set" = dxy_masked ] && file=$tmp/dxy_masked.json
  [ -f "$file" ] || { echo "$file is absent: skipped"; continue; }
  for seed in $seeds; do
    # shellcheck disable=SC2086
    "$bin" clinic cv --data "$file" --seed "$seed" $flags --json
  done | /usr/bin/python3 -c '
import json, statistics, sys
runs = [json.loads(line) for line in sys.stdin]
def show(key):
    xs = [r[key] for r in runs]
    return f"{key} {statistics.mean(xs):.3f} (min {min(xs):.3f}, max {max(xs):.3f})"
print(sys.argv[1], "%d seeds:" % len(runs), ", ".join(show(k) for k in ["top1", "top3", "avg_questions", "brier", "ece", "top1_volunteered_only"]))
' "$run"
  [ "$set" = dxy_masked ] || [ -n "${flags:-}" ] && continue
  "$bin" clinic eval --data "$file" --json | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
print(sys.argv[1], "knowledge base: top1 %.3f top3 %.3f n %d (left out %d)" % (r["top1"], r["top3"], r["n"], r["skipped"]))
' "$set"
done
