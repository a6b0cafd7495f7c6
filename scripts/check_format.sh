#!/usr/bin/env bash
# Every C++ source is clang-formatted (.clang-format): exits 1 and names the files that are not.
# Usage: scripts/check_format.sh [REPO_ROOT]
set -euo pipefail
root=${1:-$(dirname "$0")/..}
cd "$root"
mapfile -t files < <(find src bench fuzz -name '*.cpp' -o -name '*.hpp' | sort)
bad=$(clang-format --dry-run "${files[@]}" 2>&1 | grep -o '^[^:]*: warning' | cut -d: -f1 | sort -u || true)
if [ -n "$bad" ]; then
  echo "not clang-formatted (run: clang-format -i FILE):"
  echo "$bad"
  exit 1
fi
echo "format: ${#files[@]} files clang-formatted"
