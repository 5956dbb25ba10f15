#!/usr/bin/env bash
# Times `kill -9` of the leader to the next successful write, N times, on the local cluster of
# tools/cluster.sh (started fresh here and stopped at the end). Prints each time, the median and
# the max. The clock stops when pharosctl's put returns OK (its own start-up is included). A run
# with no successful write within $PHAROS_FAILOVER_TIMEOUT_MS (default 30000, pharos-bench's
# deadline) failed: it counts as its time, at least that timeout, worse than any success. The
# median is over all N runs (for an even N the mean of the two middle ones); the summary says how
# many succeeded.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10}
timeout_ms=${PHAROS_FAILOVER_TIMEOUT_MS:-30000}
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
succeeded=0
for run in $(seq 1 "$runs"); do
  ep=$(leader)
  name=n$(( ${ep:8:2} - 10 ))
  "$ctl" --endpoints "$eps" put warmup "$run" >/dev/null
  kill -9 "$(cat "$PHAROS_CLUSTER_DIR/$name.pid")"
  t0=$(date +%s%N)
  ok=0
  while :; do
    if "$ctl" --endpoints "$eps" --command-timeout=2s put failover "$run" >/dev/null 2>&1; then
      ok=1
      break
    fi
    (( ($(date +%s%N) - t0) / 1000000 < timeout_ms )) || break
  done
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  if [ $ok -eq 1 ]; then
    succeeded=$((succeeded + 1))
    times+=("$ms")
    echo "run $run: killed $name, write succeeded after $ms ms"
  else
    times+=("$(( ms > timeout_ms ? ms : timeout_ms ))")
    echo "run $run: killed $name, FAILED: no write succeeded in $ms ms (counts as ${times[-1]} ms)"
  fi
  tools/cluster.sh start >/dev/null
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
# The true median: the middle run, or for an even count the mean of the two middle ones.
median=$(awk '{a[NR] = $1} END {printf "%.0f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}' <<<"$sorted")
echo "failover over $runs runs, $succeeded of $runs succeeded (a failed run counts as its time, at least $timeout_ms ms): median $median ms$([ $((runs % 2)) -eq 0 ] && echo " (mean of the middle two)"), max $(tail -1 <<<"$sorted") ms"
