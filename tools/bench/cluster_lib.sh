# shellcheck shell=bash
# Sourced by the bench scripts that start clusters (compare.sh, ab.sh): free loopback ports, and
# stopping by pid what the script started. Not executable on its own.

port_free() { ! ss -Htan 2>/dev/null | awk '{print $4}' | grep -q ":$1\$"; }

# Prints a port p with p, p+1 and p+2 free (a member's client, peer and metrics ports).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768 and up): see FreePort
    port_free "$p" && port_free $((p + 1)) && port_free $((p + 2)) && { echo "$p"; return; }
  done
}

# Stops every process in the caller's associative array pid_of (name -> pid, children of this
# shell): SIGTERM to all first, then each waited for up to 5 s before SIGKILL. Empties pid_of.
stop_started() {
  local name pid
  for pid in "${pid_of[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for name in "${!pid_of[@]}"; do
    pid=${pid_of[$name]}
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    { wait "$pid"; } 2>/dev/null
  done
  pid_of=()
}
