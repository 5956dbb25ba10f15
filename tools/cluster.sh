#!/usr/bin/env bash
# Local cluster launcher: N pharosd members on 127.0.0.11, 127.0.0.12, ... (one loopback address
# each, so per-node firewall rules can partition them), data and logs under one folder.
#   tools/cluster.sh start [--nodes 3|5] [--dir DIR] [--bin BUILD_DIR]
#   tools/cluster.sh stop  [--dir DIR]
#   tools/cluster.sh endpoints [--nodes N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}; shift || true
nodes=3
dir=${PHAROS_CLUSTER_DIR:-/tmp/pharos-cluster}
bin=${PHAROS_BUILD_DIR:-$root/build}
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

# Alive and not a zombie (a killed member whose parent has not reaped it still answers kill -0).
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $state != Z* ]]
}

endpoints() {
  local eps=()
  for i in $(seq 1 "$nodes"); do eps+=("127.0.0.$((10 + i)):2379"); done
  (IFS=,; echo "${eps[*]}")
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    cluster=""
    for i in $(seq 1 "$nodes"); do
      cluster+="${cluster:+,}n$i=127.0.0.$((10 + i)):2380"
    done
    state=new
    [ -d "$dir/n1/data" ] && state=existing
    for i in $(seq 1 "$nodes"); do
      host=127.0.0.$((10 + i))
      if [ -f "$dir/n$i.pid" ] && alive "$(cat "$dir/n$i.pid")"; then
        echo "n$i already running (pid $(cat "$dir/n$i.pid"))"; continue
      fi
      mkdir -p "$dir/n$i"
      "$bin/registry/pharosd" --name "n$i" --data-dir "$dir/n$i/data" \
        --listen-client "$host:2379" --listen-peer "$host:2380" --listen-metrics "$host:2381" \
        --initial-cluster "$cluster" --initial-cluster-state "$state" \
        >>"$dir/n$i/pharosd.log" 2>&1 &
      echo $! > "$dir/n$i.pid"
      echo "n$i: pid $!, client $host:2379, peer $host:2380, log $dir/n$i/pharosd.log"
    done
    echo "endpoints: $(endpoints)"
    ;;
  stop)
    for pidfile in "$dir"/n*.pid; do
      [ -f "$pidfile" ] || continue
      pid=$(cat "$pidfile")
      if alive "$pid"; then
        kill -TERM "$pid"
        for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
        alive "$pid" && kill -KILL "$pid"
        echo "stopped $(basename "$pidfile" .pid) (pid $pid)"
      fi
      rm -f "$pidfile"
    done
    ;;
  endpoints) endpoints ;;
  *) echo "usage: $0 start|stop|endpoints [--nodes N] [--dir DIR]" >&2; exit 2 ;;
esac
