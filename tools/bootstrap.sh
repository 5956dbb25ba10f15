#!/usr/bin/env bash
# Installs the Debian packages Pharos needs to build and test. Idempotent, and quiet when
# everything is already there.
set -euo pipefail

packages=(
  cmake ninja-build ccache g++ clang-format
  libboost-dev libprotobuf-dev protobuf-compiler librocksdb-dev libspdlog-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libssl-dev nlohmann-json3-dev iptables
  libgoogle-perftools-dev  # tcmalloc, pharosd's allocator
  libabsl-dev  # Abseil: the key table's flat hash set (kvstore)
  # pharos-bench's etcd driver and the side-by-side benchmark (tools/bench/compare.sh).
  etcd-server libgrpc++-dev protobuf-compiler-grpc jq
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "bootstrap: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "bootstrap: need root (or sudo) to install packages" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "bootstrap: done"
