#!/usr/bin/env bash
# Pharos side by side with etcd on this machine, in one run (issue 8). Starts a 3-member Pharos
# cluster on 127.0.0.31-33 and a 3-member etcd cluster on 127.0.0.21-23 (loopback, one address
# per member, fsync on, default settings, free ports), measures the floor (fdatasync on the
# data directory's file system, loopback round trip), loads 100,000 keys of 256 bytes and reads
# each member's memory (VmRSS and RssAnon), runs every pharos-bench workload against both (each
# workload on one system and right after on the other, so a ratio's two sides are seconds apart;
# which goes first alternates from workload to workload, and each run starts once the other
# cluster is idle), times kill -9 of
# the leader to the first successful write (Pharos; etcd with its defaults and with
# --heartbeat-interval 50 --election-timeout 300), prints one table with Pharos/etcd ratios, and
# stops everything it started, also when interrupted.
#   tools/bench/compare.sh [--quick] [--duration S] [--failover-runs N] [--dir DIR] [--keep]
#                          [--only W,...] [--targets T,...]
# --only runs just the named workloads (memory put64 put1 get-lin get-ser mixed txn watch lease
# registry failover; the load that memory reads after always runs), --targets just the named
# systems (pharos, etcd): for a before/after of one change, e.g. --only memory,put64 --targets
# pharos. The table then shows "-" for what was not run.
# Exit: 0 done (the table says which margins hold), 1 a failure, 77 etcd or the etcd driver is
# missing (the ctest smoke test then counts as skipped).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${PHAROS_BUILD_DIR:-$root/build}
bench=$build/tools/pharos-bench
pharosd=$build/registry/pharosd
quick=0 duration=10 failover_runs=5 dir="" keep=0 only="" targets="pharos,etcd"
all_workloads=memory,put64,put1,get-lin,get-ser,mixed,txn,watch,lease,registry,failover
usage() {
  echo "usage: $0 [--quick] [--duration S] [--failover-runs N] [--dir DIR] [--keep] [--only W,...] [--targets T,...]" >&2
  echo "  workloads: $all_workloads; targets: pharos,etcd" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --duration) duration=$2; shift 2 ;;
    --failover-runs) failover_runs=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --only) only=$2; shift 2 ;;
    --targets) targets=$2; shift 2 ;;
    *) usage ;;
  esac
done
for w in ${only//,/ }; do [[ ,$all_workloads, == *,$w,* ]] || usage; done
for t in ${targets//,/ }; do [[ $t == pharos || $t == etcd ]] || usage; done
wanted() { [ -z "$only" ] || [[ ,$only, == *,$1,* ]]; }       # workload
targeted() { [[ ,$targets, == *,$1,* ]]; }                    # system

skip() { echo "compare.sh: SKIPPED: $*"; exit 77; }
[ -x "$pharosd" ] || { echo "compare.sh: no $pharosd (build pharosd)" >&2; exit 1; }
[ -x "$bench" ] || { echo "compare.sh: no $bench (build pharos-bench)" >&2; exit 1; }
command -v jq >/dev/null || skip "jq is not installed (tools/bootstrap.sh installs it)"
etcd_bin=""
if targeted etcd; then
  etcd_bin=$(command -v etcd) || skip "etcd is not installed (tools/bootstrap.sh installs etcd-server)"
  if "$bench" --target etcd --endpoints 127.0.0.1:1 --workload put --total 0 2>&1 |
    grep -q "without gRPC"; then
    skip "pharos-bench was built without its etcd driver (install libgrpc++-dev and protobuf-compiler-grpc, reconfigure)"
  fi
fi

if [ $quick -eq 1 ]; then
  duration=1 failover_runs=1 load_keys=2000 watchers=50 watch_rate=100 leases=200
  instances=20 discoverers=10 registry_rate=20
else
  load_keys=100000 watchers=1000 watch_rate=1000 leases=10000
  instances=100 discoverers=50 registry_rate=100
fi
clients=64 conns=8

[ -n "$dir" ] || dir=$(mktemp -d /tmp/pharos-compare.XXXXXX)
mkdir -p "$dir/results" "$dir/bin"
res=$dir/results
# Run copies: the build directory may be rebuilt under us (a member restarted mid-link would
# find no executable), and both clusters must run the same binary throughout.
cp "$pharosd" "$bench" "$dir/bin/" || exit 1
pharosd=$dir/bin/pharosd bench=$dir/bin/pharos-bench

# --- processes: every pid we start, stopped by pid on any exit ---------------------------------
# shellcheck source=tools/bench/cluster_lib.sh
source "$root/tools/bench/cluster_lib.sh"
declare -A pid_of  # "pharos1" -> pid
cleanup() {
  stop_started
  if [ $keep -eq 0 ]; then
    rm -rf "$dir/bin"
    # A failed run, or one with an invalid workload (a leader lost mid-run), keeps its members'
    # logs (not their data) for a look afterwards: they say why.
    if [ "$status" -eq 0 ] && ! grep -qs '"valid":false' "$res"/*.json; then
      rm -rf "$dir/pharos" "$dir/etcd"
    else
      rm -rf "$dir"/pharos/*/data "$dir"/etcd/*/data
    fi
  fi
}
status=0
trap 'status=$?; cleanup' EXIT
trap 'echo "compare.sh: interrupted" >&2; exit 130' INT TERM


# --- Pharos ------------------------------------------------------------------------------------
p_base=$(free_port)
p_hosts=(127.0.0.31 127.0.0.32 127.0.0.33)
p_eps=$(printf '%s:'"$p_base"',' "${p_hosts[@]}"); p_eps=${p_eps%,}
p_cluster=""
for i in 1 2 3; do p_cluster+="${p_cluster:+,}p$i=${p_hosts[$((i - 1))]}:$((p_base + 1))"; done
start_pharos_member() {  # index (1-based), state
  local i=$1 h=${p_hosts[$(($1 - 1))]}
  mkdir -p "$dir/pharos/p$i"
  "$pharosd" --name "p$i" --data-dir "$dir/pharos/p$i/data" --listen-client "$h:$p_base" \
    --listen-peer "$h:$((p_base + 1))" --listen-metrics "$h:$((p_base + 2))" \
    --initial-cluster "$p_cluster" --initial-cluster-state "$2" --log-level warn \
    >>"$dir/pharos/p$i/pharosd.log" 2>&1 &
  pid_of[pharos$i]=$!
  disown $!  # no "Killed" notice from the shell when the failover kills it
}

# --- etcd --------------------------------------------------------------------------------------
e_base=$(free_port)
# Nothing listens on Pharos's ports yet, so free_port may offer them again: not these.
while ((e_base > p_base - 3 && e_base < p_base + 3)); do e_base=$(free_port); done
e_hosts=(127.0.0.21 127.0.0.22 127.0.0.23)
e_eps=$(printf '%s:'"$e_base"',' "${e_hosts[@]}"); e_eps=${e_eps%,}
e_cluster=""
for i in 1 2 3; do e_cluster+="${e_cluster:+,}e$i=http://${e_hosts[$((i - 1))]}:$((e_base + 1))"; done
etcd_timing=()  # empty: etcd's defaults (heartbeat 100 ms, election 1000 ms)
start_etcd_member() {  # index (1-based), state
  local i=$1 h=${e_hosts[$(($1 - 1))]}
  mkdir -p "$dir/etcd/e$i"
  "$etcd_bin" --name "e$i" --data-dir "$dir/etcd/e$i/data" \
    --listen-client-urls "http://$h:$e_base" --advertise-client-urls "http://$h:$e_base" \
    --listen-peer-urls "http://$h:$((e_base + 1))" \
    --initial-advertise-peer-urls "http://$h:$((e_base + 1))" \
    --initial-cluster "$e_cluster" --initial-cluster-state "$2" \
    --initial-cluster-token pharos-compare "${etcd_timing[@]}" \
    >>"$dir/etcd/e$i/etcd.log" 2>&1 &
  pid_of[etcd$i]=$!
  disown $!
}

eps_of() { if [ "$1" = pharos ]; then echo "$p_eps"; else echo "$e_eps"; fi; }
start_member() { if [ "$1" = pharos ]; then start_pharos_member "$2" "$3"; else start_etcd_member "$2" "$3"; fi; }
stop_cluster() {  # target: SIGTERM its members and wait
  local i pid
  for i in 1 2 3; do
    pid=${pid_of[$1$i]:-}
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
    { wait "$pid"; } 2>/dev/null
    unset "pid_of[$1$i]"
  done
}
# Waits until the cluster takes a write.
wait_ready() {
  for _ in $(seq 1 300); do
    "$bench" --target "$1" --endpoints "$(eps_of "$1")" --workload put --total 1 --clients 1 \
      --prefix warmup/ --timeout-ms 1000 --json >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "compare.sh: $1 cluster never became ready (logs in $dir/$1)" >&2
  return 1
}

# Runs one workload: results in $res/<target>.<name>.json; one line of progress on stderr.
run() {  # target name args...
  local target=$1 name=$2; shift 2
  local out=$res/$target.$name.json
  "$bench" --target "$target" --endpoints "$(eps_of "$target")" --json "$@" >"$out" 2>"$out.err"
  local rc=$?
  if [ ! -s "$out" ]; then
    echo "{\"errors\":1,\"valid\":false,\"first_error\":$(jq -Rs . <"$out.err")}" >"$out"
  fi
  printf '  %-7s %-16s %s\n' "$target" "$name" \
    "$(jq -r '"\(.ops_per_second|floor) ops/s  p50 \(.p50_ms) ms  p99 \(.p99_ms) ms  errors \(.errors)" + (if .valid then "" else "  INVALID: \(.invalid_reason)" end)' "$out" 2>/dev/null)" >&2
  return $rc
}

rss_mib() {  # target [field]: the members' memory, MiB, one per line; field VmRSS (default) or RssAnon
  local i
  for i in 1 2 3; do
    awk -v f="${2:-VmRSS}:" '$1 == f {printf "%.1f\n", $2 / 1024}' "/proc/${pid_of[$1$i]}/status"
  done
}

# --- the idle wait -------------------------------------------------------------------------------
# The two clusters share this machine's cores, and both do deferred work after a burst (Pharos:
# RocksDB flushes and compactions; etcd: its snapshots, bbolt commits): before a measured run
# starts on one system, wait until the other's members are idle, i.e. their CPU time (utime +
# stime of /proc/PID/stat, all threads) grew by less than idle_cpu_ms over about 1 s; at most
# idle_deadline s, after which the run starts anyway and the output says so. An idle cluster
# here (heartbeats only) takes 0-40 ms CPU per second, all three members together (etcd the
# more); a RocksDB flush or compaction keeps a thread busy, close to 1000.
idle_cpu_ms=${PHAROS_BENCH_IDLE_CPU_MS:-100} idle_deadline=${PHAROS_BENCH_IDLE_DEADLINE:-20}
clk_tck=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_ms() {  # target: its running members' summed CPU time, ms
  local i pid stat f ticks=0
  for i in 1 2 3; do
    pid=${pid_of[$1$i]:-}
    [ -n "$pid" ] || continue
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    read -ra f <<<"${stat##*) }"  # past the command name, which may hold spaces: f[0] is field 3
    ticks=$((ticks + f[11] + f[12]))  # fields 14 and 15: utime, stime
  done
  echo $((ticks * 1000 / clk_tck))
}
other_of() { if [ "$1" = pharos ]; then echo etcd; else echo pharos; fi; }
wait_idle() {  # target run: waits for target's cluster (when it runs) to go idle before run
  local t=$1 what=$2 a b t0 t1 used waited=0
  [ -n "${pid_of[${t}1]:-}${pid_of[${t}2]:-}${pid_of[${t}3]:-}" ] || return 0
  a=$(cpu_ms "$t") t0=$(date +%s%N)
  while :; do
    sleep 1
    b=$(cpu_ms "$t") t1=$(date +%s%N)
    used=$(((b - a) * 1000000000 / (t1 - t0)))  # ms of CPU per second
    waited=$((waited + (t1 - t0) / 1000000))
    if [ "$used" -lt "$idle_cpu_ms" ]; then
      printf '    %s idle (%d ms CPU/s) after %d.%d s, before %s\n' "$t" "$used" $((waited / 1000)) \
        $((waited % 1000 / 100)) "$what" >&2
      printf '%s\t%s\tidle\t%d\t%d\n' "$what" "$t" "$waited" "$used" >>"$res/idle.tsv"
      return 0
    fi
    if [ "$waited" -ge $((idle_deadline * 1000)) ]; then
      printf '    %s NOT idle after %d s (%d ms CPU/s), %s runs anyway\n' "$t" "$idle_deadline" "$used" "$what" >&2
      printf '%s\t%s\tbusy\t%d\t%d\n' "$what" "$t" "$waited" "$used" >>"$res/idle.tsv"
      return 0
    fi
    a=$b t0=$t1
  done
}

failover() {  # target label runs
  local target=$1 label=$2 runs=$3 r killed pids
  for r in $(seq 1 "$runs"); do
    wait_ready "$target" || return 1
    pids="${pid_of[${target}1]},${pid_of[${target}2]},${pid_of[${target}3]}"
    run "$target" "failover-$label-$r" --workload failover --pids "$pids" --timeout-ms 200
    killed=$(jq -r '.killed // empty' "$res/$target.failover-$label-$r.json")
    if [ -n "$killed" ]; then
      local dead=${pid_of[$target$((killed + 1))]}
      for _ in $(seq 1 250); do kill -0 "$dead" 2>/dev/null || break; sleep 0.02; done
      start_member "$target" $((killed + 1)) existing
    fi
  done
  wait_ready "$target"
}

echo "compare.sh: work directory $dir; $(nproc) cores; $(uptime | sed 's/.*load/load/')" >&2
# --- the floor ---------------------------------------------------------------------------------
mkdir -p "$dir/pharos" "$dir/etcd"
"$bench" --workload fsync-probe --dir "$dir" --total $([ $quick -eq 1 ] && echo 100 || echo 1000) \
  --value-size 256 --json >"$res/floor.fsync.json" || exit 1
"$bench" --workload rtt-probe --server-host 127.0.0.31 --client-host 127.0.0.32 \
  --total $([ $quick -eq 1 ] && echo 1000 || echo 20000) --json >"$res/floor.rtt.json" || exit 1
echo "  floor: fdatasync p50 $(jq .p50_ms "$res/floor.fsync.json") ms, loopback rtt p50 $(jq .p50_ms "$res/floor.rtt.json") ms" >&2

systems=()
for target in pharos etcd; do targeted "$target" && systems+=("$target"); done
# Both clusters are started and loaded first; then each workload runs on one system and right
# after on the other, so the two sides of a ratio are measured seconds apart rather than minutes:
# this machine is shared and its speed drifts over minutes (the cluster not being measured sits
# idle, sending only heartbeats).
for target in "${systems[@]}"; do
  echo "== $target: start, load $load_keys keys, resident memory" >&2
  for i in 1 2 3; do start_member "$target" "$i" new; done
  wait_ready "$target" || exit 1
  # Memory first, after loading the keys and nothing else.
  run "$target" load --workload put --clients $clients --connections $conns --total $load_keys \
    --keys $load_keys --value-size 256 --prefix bench/
  sleep 1
  rss_mib "$target" >"$res/$target.rss"
  rss_mib "$target" RssAnon >"$res/$target.rssanon"
  echo "  $target   resident MiB per member: $(paste -sd' ' "$res/$target.rss")" >&2
  echo "  $target   anonymous (RssAnon) MiB per member: $(paste -sd' ' "$res/$target.rssanon")" >&2
done
# Which system goes first alternates along this list, by each workload's place in it (so a
# workload goes in the same order whatever --only picks): put64, get-lin, mixed, watch and
# registry run on Pharos first, put1, get-ser, txn and lease on etcd first. Before each run the
# other cluster must be idle (wait_idle). The order is in $res/order.tsv, the waits in
# $res/idle.tsv.
measured=(put64 put1 get-lin get-ser mixed txn watch lease registry)
each() {  # name args...: the workload on every system, one right after the other
  local name=$1 target order=("${systems[@]}") i
  for i in "${!measured[@]}"; do [ "${measured[$i]}" = "$name" ] && break; done
  if [ ${#order[@]} -eq 2 ] && [ $((i % 2)) -eq 1 ]; then order=("${order[1]}" "${order[0]}"); fi
  echo "  $name: ${order[0]} first" >&2
  printf '%s\t%s\n' "$name" "${order[*]}" >>"$res/order.tsv"
  for target in "${order[@]}"; do
    wait_idle "$(other_of "$target")" "$target $name"
    run "$target" "$@"
  done
}
: >"$res/order.tsv"; : >"$res/idle.tsv"
echo "== workloads, each on ${systems[*]}, the first alternating (put64 ${systems[0]} first)" >&2
common=(--duration "$duration" --value-size 256 --keys $load_keys --prefix bench/)
wanted put64 && each put64 --workload put --clients $clients --connections $conns "${common[@]}"
wanted put1 && each put1 --workload put --clients 1 --connections 1 "${common[@]}"
wanted get-lin && each get-lin --workload get --clients $clients --connections $conns \
  "${common[@]}"
wanted get-ser && each get-ser --workload get --serializable --clients $clients \
  --connections $conns "${common[@]}"
wanted mixed && each mixed --workload mixed --read-ratio 0.5 --clients $clients \
  --connections $conns "${common[@]}"
wanted txn && each txn --workload txn --clients $clients --connections $conns \
  --duration "$duration" --keys $clients --prefix bench/
wanted watch && each watch --workload watch --watchers $watchers --rate $watch_rate \
  --clients 16 --connections $conns --duration "$duration" --prefix bench/
wanted lease && each lease --workload lease --leases $leases --clients $clients \
  --connections $conns --duration "$duration" --prefix bench/
wanted registry && each registry --workload registry --instances $instances \
  --discoverers $discoverers --rate $registry_rate --clients 16 --connections $conns \
  --duration "$duration"
for target in "${systems[@]}"; do
  # Again after the workloads: reads fill caches (Pharos' RocksDB block cache) that the load
  # alone does not, and the margin is taken after the load only.
  rss_mib "$target" >"$res/$target.rss-after"
  rss_mib "$target" RssAnon >"$res/$target.rssanon-after"
  if wanted failover; then
    wait_idle "$(other_of "$target")" "$target failover"
    failover "$target" default "$failover_runs" || exit 1
  fi
  stop_cluster "$target"
done
if targeted etcd && wanted failover; then
  # etcd again, same data, with the fast timings.
  etcd_timing=(--heartbeat-interval 50 --election-timeout 300)
  echo "== etcd --heartbeat-interval 50 --election-timeout 300" >&2
  for i in 1 2 3; do start_etcd_member "$i" existing; done
  failover etcd fast "$failover_runs" || exit 1
  stop_cluster etcd
fi

# The disk is shared and its latency drifts: probe it again at the end, and report both.
"$bench" --workload fsync-probe --dir "$dir" --total $([ $quick -eq 1 ] && echo 100 || echo 1000) \
  --value-size 256 --json >"$res/floor.fsync-end.json" || exit 1

# --- the table ---------------------------------------------------------------------------------
val() {  # file jq-expression -> number, "-" when missing
  local v
  v=$(jq -r "$2 // empty" "$1" 2>/dev/null)
  echo "${v:--}"
}
mark() {  # file -> "*" when the run was invalid or had errors
  [ -f "$1" ] || return 0
  if [ "$(jq -r '.valid' "$1" 2>/dev/null)" != true ] || [ "$(jq -r '.errors' "$1" 2>/dev/null)" != 0 ]; then
    echo "*"
  fi
}
# A failover run in which no write succeeded (or that never got to its kill) counts as worse than
# any success: as pharos-bench's deadline, 30 s after the kill (RunFailover), or as long as it
# took when that was longer. The median is over all --failover-runs runs, a missing one counted
# as failed; for an even count it is the mean of the two middle runs.
fo_timeout_ms=30000
median_failover() {  # target label -> "median succeeded" ("- 0" when the target's failover never ran)
  local r f times=() ok=0
  compgen -G "$res/$1.failover-$2-*.json" >/dev/null || { echo "- 0"; return; }
  for r in $(seq 1 "$failover_runs"); do
    f=$res/$1.failover-$2-$r.json
    if [ "$(jq -r '.ok // 0' "$f" 2>/dev/null)" = 1 ]; then
      times+=("$(jq -r .p50_ms "$f")")
      ok=$((ok + 1))
    else
      times+=("$(jq -r "[$fo_timeout_ms, (.seconds // 0) * 1000] | max" "$f" 2>/dev/null || echo $fo_timeout_ms)")
    fi
  done
  printf '%s\n' "${times[@]}" | sort -g | awk -v ok=$ok '{a[NR]=$1} END {printf "%.0f %d\n", (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2, ok}'
}
row() {  # label pharos etcd want (">=3" "<=0.4" ...) unit
  local ratio="-" verdict=""
  if [[ $2 =~ ^[0-9.]+$ && $3 =~ ^[0-9.]+$ ]] && awk "BEGIN{exit !($3 > 0)}"; then
    ratio=$(awk "BEGIN{printf \"%.2f\", $2 / $3}")
    if [ -n "$4" ]; then
      if awk "BEGIN{r=$2/$3; exit !(\"${4:0:2}\" == \">=\" ? r >= ${4:2} : r <= ${4:2})}"; then
        verdict=ok
      else
        verdict=MISSED
      fi
    fi
  fi
  printf '%-44s %12s %12s %8s %8s %7s\n' "$1" "$2" "$3" "$ratio" "${4:-}" "$verdict"
}
metric() {  # name target field: value with an invalid mark
  local f=$res/$2.$1.json
  echo "$(val "$f" "$3")$(mark "$f")"
}
n() { echo "${1%\*}"; }
num() { awk "BEGIN{printf \"%.${2:-0}f\", $1}"; }

p() { metric "$1" pharos "$2"; }
e() { metric "$1" etcd "$2"; }
fmt_row() {  # label name field digits want; nothing when neither system ran it (--only)
  [ -f "$res/pharos.$2.json" ] || [ -f "$res/etcd.$2.json" ] || return 0
  local pv ev
  pv=$(p "$2" "$3"); ev=$(e "$2" "$3")
  local pn en
  pn=$(n "$pv"); en=$(n "$ev")
  [[ $pn =~ ^[0-9.]+$ ]] && pn=$(num "$pn" "$4")
  [[ $en =~ ^[0-9.]+$ ]] && en=$(num "$en" "$4")
  row "$1" "$pn${pv//[^*]/}" "$en${ev//[^*]/}" "$5"
}
row_plain() {  # label pharos etcd want
  row "$1" "$2" "$3" "$4"
}

fsync50=$(val "$res/floor.fsync.json" .p50_ms)
fsync99=$(val "$res/floor.fsync.json" .p99_ms)
rtt50=$(val "$res/floor.rtt.json" .p50_ms)
floor=$(awk "BEGIN{printf \"%.3f\", 2 * $fsync50 + 2 * $rtt50}")
put1_p50=$(n "$(p put1 .p50_ms)")

echo
echo "Pharos vs etcd $([ -n "$etcd_bin" ] && "$etcd_bin" --version 2>/dev/null | awk '/etcd Version/ {print $3}'), 3 members each on loopback, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)$([ $quick -eq 1 ] && echo ', QUICK (smoke test, not a measurement)')"
echo "workloads: ${duration} s each, $clients clients over $conns connections unless noted, 256-byte values, $load_keys keys"
printf '%-44s %12s %12s %8s %8s %7s\n' "metric" "pharos" "etcd" "ratio" "want" ""
fmt_row "put throughput, 64 clients (ops/s)" put64 .ops_per_second 0 ">=3"
fmt_row "put p99, 64 clients (ms)" put64 .p99_ms 2 ""
fmt_row "put p50, 1 client, sequential (ms)" put1 .p50_ms 3 "<=0.4"
fmt_row "put p99, 1 client, sequential (ms)" put1 .p99_ms 3 "<=0.4"
fmt_row "get linearizable throughput (ops/s)" get-lin .ops_per_second 0 ">=5"
fmt_row "get linearizable p99 (ms)" get-lin .p99_ms 2 ""
fmt_row "get serializable throughput (ops/s)" get-ser .ops_per_second 0 ""
fmt_row "mixed 50% reads throughput (ops/s)" mixed .ops_per_second 0 ""
fmt_row "txn compare-and-swap throughput (ops/s)" txn .ops_per_second 0 ""
fmt_row "watch $watchers watchers @ $watch_rate puts/s: p50 (ms)" watch .p50_ms 2 ""
fmt_row "watch $watchers watchers @ $watch_rate puts/s: p99 (ms)" watch .p99_ms 2 "<=0.5"
fmt_row "  same, from the put's send: p99 (ms)" watch .from_send_p99_ms 2 ""
fmt_row "lease keepalives/s, $leases leases" lease .ops_per_second 0 ">=2"
fmt_row "registry $instances inst/$discoverers disc: all see, p99 ms" registry .p99_ms 2 ""
fmt_row "  same, from the change's send: p99 (ms)" registry .from_send_p99_ms 2 ""
p_rss=$(sort -g "$res/pharos.rss" 2>/dev/null | tail -1)
e_rss=$(sort -g "$res/etcd.rss" 2>/dev/null | tail -1)
p_rss=${p_rss:--} e_rss=${e_rss:--}
row_plain "resident MiB, largest member, $load_keys keys" "$p_rss" "$e_rss" "<=0.3"
p_rss=$(sort -g "$res/pharos.rss-after" 2>/dev/null | tail -1)
e_rss=$(sort -g "$res/etcd.rss-after" 2>/dev/null | tail -1)
row_plain "  same, after the workloads" "${p_rss:--}" "${e_rss:--}" ""
p_rss=$(sort -g "$res/pharos.rssanon" 2>/dev/null | tail -1)
e_rss=$(sort -g "$res/etcd.rssanon" 2>/dev/null | tail -1)
row_plain "  RssAnon MiB, largest member, $load_keys keys" "${p_rss:--}" "${e_rss:--}" ""
p_rss=$(sort -g "$res/pharos.rssanon-after" 2>/dev/null | tail -1)
e_rss=$(sort -g "$res/etcd.rssanon-after" 2>/dev/null | tail -1)
row_plain "  RssAnon, after the workloads" "${p_rss:--}" "${e_rss:--}" ""
read -r p_fo p_fo_ok < <(median_failover pharos default)
read -r e_fo e_fo_ok < <(median_failover etcd default)
read -r e_fo_fast e_fo_fast_ok < <(median_failover etcd fast)
if wanted failover; then
  row_plain "kill -9 leader -> write, median ms (etcd dflt)" "$p_fo" "$e_fo" ""
  row_plain "kill -9 leader -> write, median ms (etcd 50/300)" "$p_fo" "$e_fo_fast" ""
fi
echo
echo "floor: fdatasync of a 256-byte append p50 $fsync50 ms (p99 $fsync99 ms) at the start, p50 $(val "$res/floor.fsync-end.json" .p50_ms) ms (p99 $(val "$res/floor.fsync-end.json" .p99_ms) ms) at the end"
echo "       loopback round trip p50 $rtt50 ms (p99 $(val "$res/floor.rtt.json" .p99_ms) ms)"
echo "       sequential put floor = 2 fdatasync + 2 round trips = $floor ms; pharos put p50 / floor = $([[ $put1_p50 =~ ^[0-9.]+$ ]] && awk "BEGIN{printf \"%.2f\", $put1_p50 / $floor}" || echo -) (want <= 2)"
fo_verdict=MISSED
[[ $p_fo =~ ^[0-9]+$ ]] && [ "$p_fo" -le 300 ] && fo_verdict=ok
fo_ok() { [ "$1" = - ] || echo ", $2 of $failover_runs succeeded"; }  # median ok
if wanted failover; then
  echo "failover: pharos median $p_fo ms (want <= 300: $fo_verdict) over $failover_runs runs$(fo_ok "$p_fo" "$p_fo_ok"); etcd $e_fo ms (defaults$(fo_ok "$e_fo" "$e_fo_ok")), $e_fo_fast ms (50/300$(fo_ok "$e_fo_fast" "$e_fo_fast_ok"))"
  echo "          a run with no successful write counts as $fo_timeout_ms ms (the tool's deadline), worse than any success$([ $((failover_runs % 2)) -eq 0 ] && echo "; the median of $failover_runs runs is the mean of the middle two")"
fi
echo "memory: resident = VmRSS, every resident page mapped into the process: etcd's bbolt file is mmap'd, so its"
echo "        touched pages count; Pharos reads its RocksDB files with pread, so their page cache counts nowhere."
echo "        RssAnon = anonymous pages alone (heap and stacks: RocksDB's block cache and memtables, Go's heap), no"
echo "        file pages on either side. Each row is the largest member by that measure."
if [ -s "$res/order.tsv" ]; then
  echo "order: $(awk -F'\t' '{split($2, t, " "); printf "%s%s %s first", (NR > 1 ? ", " : ""), $1, t[1]}' "$res/order.tsv")"
fi
if [ -s "$res/idle.tsv" ]; then
  echo "idle: each run waited for the other cluster to go idle (< $idle_cpu_ms ms CPU/s over 1 s, $idle_deadline s at most): $(awk -F'\t' '{s += $4} $3 == "idle" {n++} $3 == "busy" {b = b ", " $1} END {printf "%d of %d idle, %.1f s waited in all%s", n, NR, s / 1000, b == "" ? "" : "; still busy before " substr(b, 3)}' "$res/idle.tsv")"
fi
echo "* = the run had errors or was invalid (the leader's term changed); raw results in $res"
grep -qs '"valid":false' "$res"/*.json &&
  echo "  an invalid run: the members' logs are kept in $dir/pharos and $dir/etcd"
# A workload that did nothing at all is a broken driver or cluster, not a slow one.
broken=0
for f in "$res"/pharos.*.json "$res"/etcd.*.json; do
  [ -f "$f" ] || continue
  if [ "$(jq -r '.ok // 0' "$f")" = 0 ]; then
    echo "compare.sh: $(basename "$f" .json) completed no operation: $(jq -r .first_error "$f")" >&2
    system=$(basename "$f" | cut -d. -f1)
    for log in "$dir/$system"/*/*.log; do
      [ -f "$log" ] || continue
      echo "--- the last lines of $log" >&2
      tail -n 15 "$log" >&2
    done
    broken=1
  fi
done
exit $broken
