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
for set in dxy muzhi; do
  file=$data/$set/train.json
  [ -f "$file" ] || { echo "$file is absent: skipped"; continue; }
  for seed in $seeds; do
    "$bin" clinic cv --data "$file" --seed "$seed" --json
  done | /usr/bin/python3 -c '
import json, statistics, sys
runs = [json.loads(line) for line in sys.stdin]
def show(key):
    xs = [r[key] for r in runs]
    return f"{key} {statistics.mean(xs):.3f} (min {min(xs):.3f}, max {max(xs):.3f})"
print(sys.argv[1], "%d seeds:" % len(runs), ", ".join(show(k) for k in ["top1", "top3", "avg_questions", "brier", "ece"]))
' "$set"
  "$bin" clinic eval --data "$file" --json | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
print(sys.argv[1], "knowledge base: top1 %.3f top3 %.3f n %d (left out %d)" % (r["top1"], r["top3"], r["n"], r["skipped"]))
' "$set"
done
