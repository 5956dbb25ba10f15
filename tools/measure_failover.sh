#!/usr/bin/env bash
# Times `kill -9` of the leader to the next successful write, N times, on the local cluster of
# tools/cluster.sh (started fresh here and stopped at the end). Prints each time, the median and
# the max. The clock stops when pharosctl's put returns OK (its own start-up is included).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10}
build=${PHAROS_BUILD_DIR:-$root/build}
export PHAROS_BUILD_DIR=$build PHAROS_CLUSTER_DIR=${PHAROS_CLUSTER_DIR:-/tmp/pharos-failover}
ctl="$build/tools/pharosctl"
cd "$root"
tools/cluster.sh stop >/dev/null 2>&1 || true
rm -rf "$PHAROS_CLUSTER_DIR"
tools/cluster.sh start >/dev/null
trap 'tools/cluster.sh stop >/dev/null' EXIT
eps=$(tools/cluster.sh endpoints)
leader() {
  for _ in $(seq 1 200); do
    local out ep
    # Exit 0 only when every member answered; column 5 is IS LEADER.
    if out=$("$ctl" --endpoints "$eps" endpoint status 2>/dev/null); then
      ep=$(awk -F', ' '$5 == "true" {print $1}' <<<"$out")
      if [ -n "$ep" ]; then
        echo "$ep"
        return 0
      fi
    fi
    sleep 0.05
  done
  return 1
}
times=()
for run in $(seq 1 "$runs"); do
  ep=$(leader)
  name=n$(( ${ep:8:2} - 10 ))
  "$ctl" --endpoints "$eps" put warmup "$run" >/dev/null
  kill -9 "$(cat "$PHAROS_CLUSTER_DIR/$name.pid")"
  t0=$(date +%s%N)
  until "$ctl" --endpoints "$eps" --command-timeout=2s put failover "$run" >/dev/null 2>&1; do :; done
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  times+=("$ms")
  echo "run $run: killed $name, write succeeded after $ms ms"
  tools/cluster.sh start >/dev/null
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(sed -n "$(( (runs + 1) / 2 ))p" <<<"$sorted")
echo "failover over $runs runs: median $median ms, max $(tail -1 <<<"$sorted") ms"
