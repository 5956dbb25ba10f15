// RunLoop: the closed loop every pharos-bench workload drives its operations through. N client
// threads take operation numbers from one shared counter until a duration or a total is reached;
// with a fixed rate, operation i is due at start + i/rate and its latency counts from then, so a
// stalled server is charged for every request it delayed (no coordinated omission).
//
// Thread rules: RunLoop blocks and runs its own threads; each thread builds its own Op from the
// factory, so per-client state in an Op needs no lock.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"
#include "tools/bench/histogram.h"
#include "tools/bench/workload.h"

namespace pharos::bench {

// One operation of one client thread; `seq` is the operation's number in the run.
using Op = std::function<Status(int64_t seq)>;
using OpFactory = std::function<Op(int client)>;

struct LoopResult {
  int64_t ok = 0;
  int64_t errors = 0;
  std::string first_error;
  double seconds = 0;
  Histogram latency;  // of the operations that succeeded
};

// Runs `o.clients` threads until `o.duration_s` passes (when `use_duration`) or `total`
// operations were taken, at `rate` operations per second in all (0: as fast as possible).
LoopResult RunLoop(const WorkloadOptions& o, int64_t total, bool use_duration, double rate,
                   const OpFactory& factory);

// Now on the steady clock, in nanoseconds: the time base of every latency the workloads record.
int64_t NowNanos();

}  // namespace pharos::bench
