#!/usr/bin/env bash
# Two builds of Pharos, or one build under two settings, side by side: the before/after method of
# PERFORMANCE.md. Starts two 3-member clusters on this machine (A on 127.0.0.51-53, B on
# 127.0.0.61-63; free ports, fsync on), runs the same pharos-bench workload against each in turn,
# round after round, and prints every round and a summary: per side the median throughput, p50
# and p99, and in how many rounds B's p50 was lower than A's. The two sides of a round run
# seconds apart and take turns going first, so the machine's drift over minutes, and whatever
# the previous run left behind, reach both alike. A difference smaller than the spread between
# rounds is not shown by one invocation: run it again with the builds swapped.
#   tools/bench/ab.sh [--a-build DIR] [--b-build DIR] [--a-env "K=V ..."] [--b-env "K=V ..."]
#                     [--a-flags "FLAGS"] [--b-flags "FLAGS"] [--rounds N] [--seconds S]
#                     [--load N] [--dir DIR] [-- PHAROS-BENCH ARGS]
# --load N first writes N keys of 256 bytes under bench/ to each cluster (64 clients, as
# compare.sh loads its 100,000): gets then read keys that exist, from a store of that size, where
# without it they read an empty store, which answers faster than any store compare.sh measures.
# Builds default to $PHAROS_BUILD_DIR or build/; --X-env sets environment variables for one
# side's members, --X-flags adds pharosd flags. The workload defaults to the sequential put
# (--workload put --clients 1); the script itself passes --endpoints, --duration and --json.
# Side A's pharos-bench drives both clusters. Every process it starts is stopped by pid when it
# exits, also on Ctrl-C. Exit: 0 every round ran without errors, 1 otherwise, 2 bad arguments.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tools/bench/cluster_lib.sh
source "$root/tools/bench/cluster_lib.sh"

usage() {  # the synopsis from the header above
  sed -n '/^#   tools\/bench\/ab.sh/,/PHAROS-BENCH ARGS\]$/s/^# //p' "$0" >&2
  exit 2
}
a_build=${PHAROS_BUILD_DIR:-$root/build} b_build=""
a_env="" b_env="" a_flags="" b_flags="" rounds=10 seconds=3 load=0 dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --a-build | --b-build | --a-env | --b-env | --a-flags | --b-flags | --rounds | --seconds | \
      --load | --dir)
      [ $# -ge 2 ] || usage
      opt=${1#--}
      printf -v "${opt//-/_}" '%s' "$2"
      shift 2
      ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
[ -n "$b_build" ] || b_build=$a_build
bench_args=("$@")
[ ${#bench_args[@]} -gt 0 ] || bench_args=(--workload put --clients 1)
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "ab.sh: --rounds wants a positive whole number" >&2; exit 2; }
[[ $load =~ ^[0-9]+$ ]] || { echo "ab.sh: --load wants a whole number of keys" >&2; exit 2; }
if ! [[ $seconds =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] || ! awk "BEGIN{exit !($seconds > 0)}"; then
  echo "ab.sh: --seconds wants a positive number" >&2
  exit 2
fi
command -v jq >/dev/null || { echo "ab.sh: jq is not installed (tools/bootstrap.sh installs it)" >&2; exit 1; }
for b in "$a_build" "$b_build"; do
  [ -x "$b/registry/pharosd" ] || { echo "ab.sh: no $b/registry/pharosd (build pharosd)" >&2; exit 1; }
done
[ -x "$a_build/tools/pharos-bench" ] || { echo "ab.sh: no $a_build/tools/pharos-bench" >&2; exit 1; }

[ -n "$dir" ] || dir=$(mktemp -d /tmp/pharos-ab.XXXXXX)
mkdir -p "$dir/results" "$dir/a/bin" "$dir/b/bin" || exit 1
# Run copies: a build directory may be relinked under us, and each side must run one binary.
cp "$a_build/registry/pharosd" "$a_build/tools/pharos-bench" "$dir/a/bin/" || exit 1
cp "$b_build/registry/pharosd" "$dir/b/bin/" || exit 1
bench=$dir/a/bin/pharos-bench

declare -A pid_of  # "a1" -> pid
cleanup() {
  stop_started
  rm -rf "$dir"/a/p*/data "$dir"/b/p*/data "$dir/a/bin" "$dir/b/bin"
}
trap cleanup EXIT
trap 'echo "ab.sh: interrupted" >&2; exit 130' INT TERM

declare -A eps_of  # "a" -> "host:port,..."
used_base=0
start_cluster() {  # side, first host number (127.0.0.N+1 .. N+3)
  local side=$1 net=$2 base i h cluster="" env flags
  base=$(free_port)
  # Nothing listens on the other side's ports yet, so free_port may offer them again: not these.
  while ((base > used_base - 3 && base < used_base + 3)); do base=$(free_port); done
  used_base=$base
  if [ "$side" = a ]; then env=$a_env flags=$a_flags; else env=$b_env flags=$b_flags; fi
  for i in 1 2 3; do cluster+="${cluster:+,}p$i=127.0.0.$((net + i)):$((base + 1))"; done
  for i in 1 2 3; do
    h=127.0.0.$((net + i))
    mkdir -p "$dir/$side/p$i"
    # shellcheck disable=SC2086  # env and flags are word lists on purpose
    env $env "$dir/$side/bin/pharosd" --name "p$i" --data-dir "$dir/$side/p$i/data" \
      --listen-client "$h:$base" --listen-peer "$h:$((base + 1))" \
      --listen-metrics "$h:$((base + 2))" --initial-cluster "$cluster" \
      --initial-cluster-state new --log-level warn $flags >>"$dir/$side/p$i/pharosd.log" 2>&1 &
    pid_of[$side$i]=$!
  done
  eps_of[$side]=$(printf '127.0.0.%s:'"$base"',' $((net + 1)) $((net + 2)) $((net + 3)))
  eps_of[$side]=${eps_of[$side]%,}
}

wait_ready() {  # side: until the cluster takes a write
  for _ in $(seq 1 300); do
    "$bench" --endpoints "${eps_of[$1]}" --workload put --total 1 --clients 1 \
      --prefix warmup/ --timeout-ms 1000 >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "ab.sh: cluster ${1^^} never became ready (logs in $dir/$1)" >&2
  return 1
}

describe() {  # side
  local build=$a_build env=$a_env flags=$a_flags
  [ "$1" = b ] && build=$b_build env=$b_env flags=$b_flags
  echo "${1^^}: $build/registry/pharosd${env:+, env $env}${flags:+, flags $flags}"
}

start_cluster a 50
start_cluster b 60
wait_ready a && wait_ready b || exit 1
load_keys() {  # side
  "$bench" --endpoints "${eps_of[$1]}" --workload put --clients 64 --connections 8 \
    --total "$load" --keys "$load" --value-size 256 --prefix bench/ >/dev/null 2>&1 && return 0
  echo "ab.sh: loading $load keys into cluster ${1^^} failed (logs in $dir/$1)" >&2
  return 1
}
if [ "$load" -gt 0 ]; then load_keys a && load_keys b || exit 1; fi
describe a
describe b
[ "$load" -gt 0 ] && echo "each loaded with $load keys of 256 bytes under bench/"
echo "workload: ${bench_args[*]}, $seconds s a run, $rounds rounds"

for r in $(seq 1 "$rounds"); do
  order=(a b)
  ((r % 2 == 0)) && order=(b a)
  for side in "${order[@]}"; do
    out=$dir/results/$side.$r.json
    "$bench" --endpoints "${eps_of[$side]}" --duration "$seconds" --json "${bench_args[@]}" \
      >"$out" 2>"$out.err"
    [ -s "$out" ] || echo '{"errors":1,"valid":false}' >"$out"
  done
  line="round $(printf '%2d' "$r") (${order[0]^^} first)"
  for side in a b; do
    line+=$(jq -r --arg s "${side^^}" \
      '"  \($s) \(.ops_per_second // 0 | floor) ops/s p50 \(.p50_ms // 0) p99 \(.p99_ms // 0) ms" +
       (if (.errors // 1) == 0 and (.valid // false) then "" else " *" end)' \
      "$dir/results/$side.$r.json")
  done
  echo "$line"
done

# Medians over the rounds both sides ran cleanly, and the rounds in which B's p50 was lower.
bad=0
for r in $(seq 1 "$rounds"); do
  jq -se 'all(.[]; .errors == 0 and .valid)' "$dir/results/a.$r.json" "$dir/results/b.$r.json" \
    >/dev/null || bad=$((bad + 1))
done
for r in $(seq 1 "$rounds"); do
  jq -sr 'select(all(.[]; .errors == 0 and .valid)) |
          [.[0].ops_per_second, .[0].p50_ms, .[0].p99_ms,
           .[1].ops_per_second, .[1].p50_ms, .[1].p99_ms] | @tsv' \
    "$dir/results/a.$r.json" "$dir/results/b.$r.json"
done | awk -F'\t' -v bad=$bad '
  { n++; for (i = 1; i <= 6; i++) v[i, n] = $i; if ($5 < $2) lower++ }
  function median(col,   a, i, j, x) {
    for (i = 1; i <= n; i++) {  # insertion sort: mawk has no asort
      x = v[col, i] + 0
      for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]
      a[j + 1] = x
    }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    if (n == 0) { print "no round ran cleanly on both sides"; exit 1 }
    printf "medians over %d clean rounds: A %.0f ops/s p50 %.4f p99 %.3f ms; B %.0f ops/s p50 %.4f p99 %.3f ms\n", \
      n, median(1), median(2), median(3), median(4), median(5), median(6)
    printf "B/A median p50 %.3f; B'"'"'s p50 below A'"'"'s in %d of %d rounds", median(5) / median(2), lower, n
    if (bad) printf "; %d rounds left out (errors or an invalid run: *)", bad
    printf "\n"
  }'
echo "raw results in $dir/results, the members' logs in $dir/a and $dir/b"
if [ "$bad" -gt 0 ]; then
  echo "ab.sh: some runs had errors or were invalid (raw results and logs in $dir)" >&2
  exit 1
fi
