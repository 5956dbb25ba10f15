// RunLoop: the closed loop every pharos-bench workload drives its operations through. N client
// threads take operation numbers from one shared counter until a duration or a total is reached;
// with a fixed rate, operation i is due at start + i/rate and its latency counts from then, so a
// stalled server is charged for every request it delayed (no coordinated omission).
//
// RunLoopAsync is the same closed loop without a thread per client: each client has one
// operation in flight and starts the next from the completion of the last, on the backend's
// threads. A client thread that sleeps in a blocking call and is woken for every answer costs
// the load generator two context switches per operation; on a small machine that is CPU taken
// from the servers being measured, and it is taken from both systems alike.
//
// Thread rules: RunLoop and RunLoopAsync block until the run ends; RunLoop runs its own threads.
// Each client builds its own Op from the factory, and its operations never overlap, so
// per-client state in an Op needs no lock.
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

// One asynchronous operation: it must call `done` exactly once, on any thread, possibly before
// it returns.
using AsyncDone = std::function<void(Status)>;
using AsyncOp = std::function<void(int64_t seq, AsyncDone done)>;
using AsyncOpFactory = std::function<AsyncOp(int client)>;

// As RunLoop at full speed (no rate): `o.clients` operations in flight until the duration passes
// or `total` operations were taken.
LoopResult RunLoopAsync(const WorkloadOptions& o, int64_t total, bool use_duration,
                        const AsyncOpFactory& factory);

// The closed loop for asynchronous operations: at `o.rate` with a thread per client, each waiting
// for its operation (RunLoop), or at full speed without (RunLoopAsync).
LoopResult RunClosedLoop(const WorkloadOptions& o, int64_t total, bool use_duration,
                         const AsyncOpFactory& factory);

// Starts one asynchronous operation and waits for its outcome.
Status Await(const std::function<void(AsyncDone)>& start);

// Now on the steady clock, in nanoseconds: the time base of every latency the workloads record.
int64_t NowNanos();

}  // namespace pharos::bench
