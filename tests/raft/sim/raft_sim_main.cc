// raft-sim: runs the deterministic Raft simulation over many seeds.
//   raft-sim [--seed S] [--seeds N] [--nodes 3|5] [--steps K] [--trace LINES] [--quiet]
//            [--defer-commit-broadcast]
//   [--stop-on-failure]
// Runs seeds S .. S+N-1. For a failing seed it prints the seed, the check that failed and a trace
// of the events before the violation; rerunning with --seed S --seeds 1 replays it exactly.
// Ends with "raft-sim: N seeds passed, M failed" and exits 1 on any failure, 2 on bad flags.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tests/raft/sim/simulation.h"

namespace {

int Usage(const std::string& why) {
  std::cerr << "raft-sim: " << why << "\n"
            << "usage: raft-sim [--seed S] [--seeds N] [--nodes 3|5] [--steps K] [--trace LINES] "
               "[--quiet] [--stop-on-failure] [--defer-commit-broadcast]\n";
  return 2;
}

bool ParseNumber(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (*end != '\0' || v < 0) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t seed = 1, seeds = 1, nodes = 3, steps = 50000, trace = 400;
  bool quiet = false, stop_on_failure = false, defer_commit_broadcast = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--defer-commit-broadcast") {
      defer_commit_broadcast = true;
      continue;
    }
    if (flag == "--quiet" || flag == "--stop-on-failure") {
      (flag == "--quiet" ? quiet : stop_on_failure) = true;
      continue;
    }
    int64_t* target = flag == "--seed"    ? &seed
                      : flag == "--seeds" ? &seeds
                      : flag == "--nodes" ? &nodes
                      : flag == "--steps" ? &steps
                      : flag == "--trace" ? &trace
                                          : nullptr;
    if (target == nullptr) return Usage("unknown flag " + flag);
    if (i + 1 >= argc) return Usage(flag + " needs a value");
    if (!ParseNumber(argv[++i], target)) return Usage(flag + " needs a non-negative integer");
  }
  if (nodes != 3 && nodes != 5) return Usage("--nodes must be 3 or 5");
  if (seeds < 1 || steps < 1) return Usage("--seeds and --steps must be at least 1");

  const auto start = std::chrono::steady_clock::now();
  int64_t passed = 0, failed = 0, events = 0, elections = 0, crashes = 0, snapshots = 0,
          conf_changes = 0, acked = 0, reads = 0, follower_reads = 0, rejoins = 0;
  for (int64_t s = seed; s < seed + seeds; ++s) {
    pharos::raft::sim::SimOptions options;
    options.seed = static_cast<uint64_t>(s);
    options.nodes = static_cast<int>(nodes);
    options.steps = steps;
    options.trace_lines = static_cast<size_t>(trace);
    options.defer_commit_broadcast = defer_commit_broadcast;
    pharos::raft::sim::Simulation sim(options);
    const pharos::raft::sim::SimResult r = sim.Run();
    events += r.events;
    elections += r.elections;
    crashes += r.crashes;
    snapshots += r.snapshots_sent;
    conf_changes += r.conf_changes;
    acked += r.writes_acked;
    reads += r.reads_served;
    follower_reads += r.follower_reads_served;
    rejoins += r.rejoins_checked;
    if (r.ok) {
      ++passed;
      if (!quiet && seeds == 1) {
        std::cout << "seed " << s << " passed: " << r.events << " events, " << r.sim_time_us / 1000
                  << " ms simulated, " << r.elections << " elections, " << r.crashes << " crashes, "
                  << r.partitions << " partitions, " << r.snapshots_sent << " snapshots sent, "
                  << r.conf_changes << " membership changes, " << r.writes_acked
                  << " writes acked, " << r.reads_served << " reads served ("
                  << r.follower_reads_served << " through a follower), " << r.rejoins_checked
                  << " rejoins under a stable leader, max term " << r.max_term << "\n";
      }
      continue;
    }
    ++failed;
    std::cout << "seed " << s << " FAILED (" << nodes << " nodes) check " << r.check << ": "
              << r.detail << "\n";
    if (!quiet) {
      std::cout << "  trace of the last " << r.trace.size() << " events:\n";
      for (const std::string& line : r.trace) std::cout << "    " << line << "\n";
    }
    std::cout << "  replay: raft-sim --seed " << s << " --nodes " << nodes << " --steps " << steps
              << (defer_commit_broadcast ? " --defer-commit-broadcast" : "") << "\n";
    if (stop_on_failure) break;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "totals: " << events << " events, " << elections << " elections, " << crashes
            << " crashes, " << snapshots << " snapshots sent, " << conf_changes
            << " membership changes, " << acked << " writes acked, " << reads << " reads served ("
            << follower_reads << " through a follower), " << rejoins
            << " rejoins under a stable leader, " << secs << " s\n";
  std::cout << "raft-sim: " << passed << " seeds passed, " << failed << " failed" << std::endl;
  return failed == 0 ? 0 : 1;
}
