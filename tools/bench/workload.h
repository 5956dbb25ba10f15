// The pharos-bench workloads, written once against Backend so that Pharos and etcd run exactly
// the same load: put, get, mixed, txn (compare-and-swap), watch (delivery latency), lease
// (keepalives sustained), registry (instances coming and going, time until every discovery
// client sees it) and failover (kill -9 of the leader to the next successful write). Each runs
// its operations through RunLoop (run_loop.h): with a fixed rate a stalled server is charged
// for the requests it delayed (no coordinated omission). Put, get, mixed and lease at full speed
// run through RunLoopAsync instead, without a thread per client (RunClosedLoop).
//
// Thread rules: RunWorkload blocks and runs its own threads; one call at a time per Backend.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tools/bench/backend.h"
#include "tools/bench/histogram.h"

namespace pharos::bench {

struct WorkloadOptions {
  std::string workload = "put";
  std::string target = "pharos";
  int clients = 1;
  double rate = 0;        // operations per second over all clients; 0: as fast as possible
  double duration_s = 0;  // > 0: run this long; else `total` operations
  int64_t total = 1000;
  int value_size = 256;
  int64_t keys = 100000;  // key space
  std::string prefix = "bench/";
  bool serializable = false;  // get: serializable instead of linearizable
  double read_ratio = 0.5;    // mixed
  int watchers = 1000;        // watch
  int leases = 10000;         // lease
  int64_t lease_ttl = 600;    // long enough that no lease expires during a comparison run
  int instances = 100;        // registry: service instances registering and deregistering
  int discoverers = 50;       // registry: discovery clients watching the service
  int64_t instance_ttl = 10;  // registry: each instance's lease, kept alive (the SDK's default)
  std::string service;        // registry: the service's name; empty: one of its own per run
  std::vector<int> pids;      // failover: the members' pids, in --endpoints order
  // failover: the deadline of each write attempt after the kill; short, as a client that
  // retries promptly (an attempt caught by the dying leader would otherwise wait out a long one)
  std::chrono::milliseconds attempt_timeout{200};
  bool progress = false;  // a line a second on stderr
};

struct Report {
  std::string workload;
  std::string target;
  int clients = 0;
  int connections = 0;
  int64_t ok = 0;
  int64_t errors = 0;
  std::string first_error;
  std::string note;  // free text for a person reading the JSON (failover: each attempt)
  double seconds = 0;
  Histogram latency;
  // Workload-specific figures (name, value), printed after the common ones.
  std::vector<std::pair<std::string, double>> extra;
  // A run during which the leader's term (or the leader) changed measures an election, not the
  // system: it is reported invalid (DESIGN.md §10).
  bool valid = true;
  std::string invalid_reason;
  uint64_t term_before = 0;
  uint64_t term_after = 0;

  double ops_per_second() const { return seconds > 0 ? ok / seconds : 0; }
};

Result<Report> RunWorkload(Backend& backend, const WorkloadOptions& options);

}  // namespace pharos::bench
