// AutoCompactor: decides when the leader proposes a compaction so history does not grow forever
// (DESIGN.md §4, etcd's --auto-compaction-mode / --auto-compaction-retention).
//   revision: keep the newest `retention` revisions. It compacts whenever the history kept
//             exceeds the retention by a tenth (at least one revision), so at most 1.1 × retention
//             revisions are kept and a busy cluster does not propose a compaction per write.
//   periodic: keep `retention` of time. It notes the revision every tenth of the period and
//             compacts to the newest revision noted at least one period ago.
// Only the leader asks it; a member that becomes leader starts with no samples, so periodic
// compaction waits one period after a failover (as etcd's does).
//
// Thread rules: not thread-safe; the server's I/O thread owns it. Time is passed in, so tests
// drive it without sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "common/result.h"

namespace pharos::registry {

struct AutoCompactionPolicy {
  enum class Mode { kOff, kRevision, kPeriodic };
  Mode mode = Mode::kOff;
  int64_t retain_revisions = 0;        // revision mode
  std::chrono::milliseconds period{};  // periodic mode
};

// Parses the two flags as etcd does: in periodic mode the retention is a duration ("72h", "30m",
// "10s", "500ms") or a bare number of hours; in revision mode a revision count. "0" turns
// auto-compaction off.
Result<AutoCompactionPolicy> ParseAutoCompaction(const std::string& mode,
                                                 const std::string& retention);

class AutoCompactor {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit AutoCompactor(AutoCompactionPolicy policy) : policy_(policy) {}

  // The revision to compact to now, if any, given the current and the compacted revision.
  std::optional<int64_t> Next(TimePoint now, int64_t revision, int64_t compacted);
  // Leadership lost: what was sampled no longer drives anything.
  void Reset() { samples_.clear(); }
  const AutoCompactionPolicy& policy() const { return policy_; }

 private:
  AutoCompactionPolicy policy_;
  std::deque<std::pair<TimePoint, int64_t>> samples_;  // oldest first
};

}  // namespace pharos::registry
