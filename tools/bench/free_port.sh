# shellcheck shell=bash
# Sourced by the bench scripts: loopback ports for a cluster. Not executable on its own.

port_free() { ! ss -Htan 2>/dev/null | awk '{print $4}' | grep -q ":$1\$"; }

# Prints a port p with p, p+1 and p+2 free (a member's client, peer and metrics ports).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768 and up): see FreePort
    port_free "$p" && port_free $((p + 1)) && port_free $((p + 2)) && { echo "$p"; return; }
  done
}
