#!/usr/bin/env bash
# 3,200 agent definitions (a district's government agents: one front desk, the rest spread over the taxonomy's
# departments, each with instructions, tools and a knowledge list) loaded by `citybrain agents check`: the time and
# the resident memory per agent. Figures go to docs/BENCHMARKS.md by hand.
# Usage: scripts/bench_agents.sh [BUILD_DIR] [COUNT]
set -euo pipefail
build=${1:-build/release}
count=${2:-3200}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" "$count" <<'PY'
import json, os, sys
out, n = sys.argv[1], int(sys.argv[2])
depts = ["CGJ", "JTJ", "SWJ", "ZJJ", "STHJ", "GAJ", "MZJ", "WJJ"]
tools = ["create_case", "case_status", "search_knowledge", "handover_to_human"]
for i in range(n):
    a = {"name": f"agent-{i:05d}", "department": "*" if i == 0 else depts[i % len(depts)],
         "instructions": f"第{i}号政务智能体：受理本部门市民诉求，立案、查询进度、依据政策文件解答，不确定时转人工。" * 3,
         "tools": tools, "knowledge": [f"docs/policy-{i % 50}.md", "docs/hotline.md"],
         "model": "citybrain-local" if i % 2 else "qwen2.5-7b-instruct", "budget_tokens": 100000 + i}
    with open(os.path.join(out, f"agent-{i:05d}.json"), "w") as f:
        json.dump(a, f, ensure_ascii=False)
PY
echo "files: $(ls "$work" | wc -l), $(du -sh "$work" | cut -f1) on disk"
for run in 1 2 3; do "$build/citybrain" agents check "$work"; done
