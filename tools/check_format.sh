#!/usr/bin/env bash
# Fails when a C++ file of ours is not clang-formatted (.clang-format: Google base, 100 columns).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
files=$(git ls-files -co --exclude-standard -- \
  'common/*.h' 'common/*.cc' 'raft/*.h' 'raft/*.cc' 'kvstore/*.h' 'kvstore/*.cc' \
  'registry/*.h' 'registry/*.cc' 'client/*.h' 'client/*.cc' 'tools/*.h' 'tools/*.cc' \
  'jepsen/*.h' 'jepsen/*.cc' 'tests/*.h' 'tests/*.cc' | sort -u)
bad=()
for f in $files; do
  [ -f "$f" ] || continue
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "not clang-formatted (run: clang-format -i FILE):"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "format check: $(wc -w <<<"$files") files formatted"
