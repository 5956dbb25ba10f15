// Generates histories of a linearizable store for tests: many workers issue read, write, cas and
// append on a few keys; each op takes effect at one random instant between its invoke and its
// completion, so the result is linearizable by construction. Some ops fail (and never take
// effect), some end in info (they took effect already, take effect later, or never), and the
// last few are left pending, as when a run is cut off.
#pragma once

#include <cstdint>
#include <string>

namespace pharos::jepsen {

struct GeneratorOptions {
  uint64_t seed = 1;
  int ops = 10'000;  // invokes in all
  int workers = 50;  // concurrent clients; one whose op ends in info goes on as a new process
  int keys = 10;
  double info_rate = 0.02;  // chance an op ends in info
  double fail_rate = 0.05;  // chance a read, write or append fails instead of taking effect
  // Every `append_every`-th key (from key 0) takes reads and appends instead of reads, writes
  // and cas; 0 for none.
  int append_every = 0;
};

// The history as JSON lines, in the harness's format.
std::string GenerateHistory(const GeneratorOptions& options);

}  // namespace pharos::jepsen
