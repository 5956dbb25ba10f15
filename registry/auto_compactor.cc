#include "registry/auto_compactor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "common/duration.h"

namespace pharos::registry {

Result<AutoCompactionPolicy> ParseAutoCompaction(const std::string& mode,
                                                 const std::string& retention) {
  AutoCompactionPolicy policy;
  auto invalid = [&](const std::string& why) {
    return Status::InvalidArgument("--auto-compaction-retention '" + retention + "': " + why);
  };
  if (mode != "periodic" && mode != "revision") {
    return Status::InvalidArgument(
        "--auto-compaction-mode must be 'periodic' or 'revision', not '" + mode + "'");
  }
  if (retention.empty()) return invalid("empty");
  if (mode == "revision") {
    // Digits only: strtoll would take a sign, spaces and a trailing unit.
    if (retention.size() > 18 || retention.find_first_not_of("0123456789") != std::string::npos) {
      return invalid("revision mode takes a whole number of revisions");
    }
    const int64_t revisions = std::stoll(retention);
    if (revisions == 0) return policy;  // off
    policy.mode = AutoCompactionPolicy::Mode::kRevision;
    policy.retain_revisions = revisions;
    return policy;
  }
  auto period = ParseDuration(retention, std::chrono::hours(1));  // a bare number is hours
  if (!period.ok())
    return Status::InvalidArgument("--auto-compaction-retention " + period.status().message());
  if (period->count() == 0) return policy;  // off
  if (*period < std::chrono::milliseconds(10)) return invalid("a period under 10 ms");
  policy.mode = AutoCompactionPolicy::Mode::kPeriodic;
  policy.period = std::chrono::duration_cast<std::chrono::milliseconds>(*period);
  return policy;
}

std::optional<int64_t> AutoCompactor::Next(TimePoint now, int64_t revision, int64_t compacted) {
  switch (policy_.mode) {
    case AutoCompactionPolicy::Mode::kOff:
      return std::nullopt;
    case AutoCompactionPolicy::Mode::kRevision: {
      const int64_t target = revision - policy_.retain_revisions;
      const int64_t slack = std::max<int64_t>(1, policy_.retain_revisions / 10);
      if (target - compacted >= slack) return target;
      return std::nullopt;
    }
    case AutoCompactionPolicy::Mode::kPeriodic: {
      const auto step = policy_.period / 10;
      if (samples_.empty() || now - samples_.back().first >= step) {
        samples_.emplace_back(now, revision);
      }
      // The newest sample at least one period old is the target; older ones are done with.
      std::optional<int64_t> target;
      while (!samples_.empty() && now - samples_.front().first >= policy_.period) {
        target = samples_.front().second;
        samples_.pop_front();
      }
      if (target && *target > compacted) return target;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace pharos::registry
