// The physical floor a replicated write cannot beat on this machine, measured the way the
// servers meet it: fdatasync of a small append to a file in the data directory's file system,
// and a TCP round trip over loopback between two of the cluster's addresses.
//
// Thread rules: each probe blocks and runs its own threads; call from one thread.
#pragma once

#include <string>

#include "common/result.h"
#include "tools/bench/histogram.h"

namespace pharos::bench {

// `count` appends of `bytes` bytes to a fresh file in `dir`, each followed by fdatasync; the
// file is removed afterwards.
Result<Histogram> ProbeFdatasync(const std::string& dir, int count, int bytes);

// `count` 64-byte ping-pongs over one TCP connection (TCP_NODELAY) from `client_host` to a
// listener on `server_host` (an ephemeral port).
Result<Histogram> ProbeLoopback(const std::string& server_host, const std::string& client_host,
                                int count);

}  // namespace pharos::bench
