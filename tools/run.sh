#!/usr/bin/env bash
# Brings up a local 3-member Pharos cluster and shows it working: installs what is missing,
# builds, starts pharosd on 127.0.0.11-13, writes a key, reads it from every member, kills the
# leader with SIGKILL, writes again (timing the failover), restarts the killed member and shows
# every member's status. The cluster stays up; `tools/cluster.sh stop` stops it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/bootstrap.sh
build=${PHAROS_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target pharosd pharosctl
ctl="$build/tools/pharosctl"
dir=${PHAROS_CLUSTER_DIR:-/tmp/pharos-cluster}
export PHAROS_CLUSTER_DIR=$dir PHAROS_BUILD_DIR=$root/$build

tools/cluster.sh stop >/dev/null 2>&1 || true
tools/cluster.sh start
eps=$(tools/cluster.sh endpoints)

wait_for_leader() {
  for _ in $(seq 1 100); do
    # endpoint status columns: ENDPOINT, ID, VERSION, DB SIZE, IS LEADER, ...
    if "$ctl" --endpoints "$eps" endpoint status 2>/dev/null | awk -F', ' '$5 == "true"' |
      grep -q .; then return 0; fi
    sleep 0.1
  done
  echo "no leader after 10 s" >&2
  return 1
}
wait_for_leader
echo
echo "== write through any endpoint (the client follows the leader hint)"
"$ctl" --endpoints "$eps" put /services/greeter/1 '{"address":"10.0.0.1","port":8080}'
echo "== linearizable read from every member"
for ep in ${eps//,/ }; do
  echo "-- $ep"
  "$ctl" --endpoints "$ep" get /services/greeter/1
done
leader_ep=$("$ctl" --endpoints "$eps" endpoint status | awk -F', ' '$5 == "true" {print $1}')
leader_name=""
for i in 1 2 3; do
  if [ "127.0.0.$((10 + i)):2379" = "$leader_ep" ]; then leader_name="n$i"; fi
done
echo
echo "== kill -9 of the leader ($leader_name at $leader_ep)"
kill -9 "$(cat "$dir/$leader_name.pid")"
start=$(date +%s%N)
until "$ctl" --endpoints "$eps" --command-timeout=1s put /services/greeter/2 after-failover \
    >/dev/null 2>&1; do :; done
echo "first successful write $(( ($(date +%s%N) - start) / 1000000 )) ms after the kill"
tools/cluster.sh start >/dev/null
wait_for_leader
sleep 0.5
echo
echo "== status of every member (the killed one restarted and caught up)"
"$ctl" --endpoints "$eps" endpoint status
echo
echo "cluster running: endpoints $eps; stop it with: tools/cluster.sh stop"
