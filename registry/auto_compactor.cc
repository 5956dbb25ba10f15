#include "registry/auto_compactor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

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
  // The leading number, then the unit (none, h, m, s or ms).
  const char* begin = retention.c_str();
  char* end = nullptr;
  const double number = std::strtod(begin, &end);
  if (end == begin || !std::isfinite(number) || number < 0) {
    return invalid("not a non-negative number");
  }
  const std::string unit(end);
  if (number == 0 && (unit.empty() || unit == "h" || unit == "m" || unit == "s" || unit == "ms")) {
    return policy;  // off
  }
  if (mode == "revision") {
    if (!unit.empty() || number != std::floor(number)) {
      return invalid("revision mode takes a whole number of revisions");
    }
    policy.mode = AutoCompactionPolicy::Mode::kRevision;
    policy.retain_revisions = static_cast<int64_t>(number);
    return policy;
  }
  double ms_per_unit = 0;
  if (unit.empty() || unit == "h") {
    ms_per_unit = 3600e3;
  } else if (unit == "m") {
    ms_per_unit = 60e3;
  } else if (unit == "s") {
    ms_per_unit = 1e3;
  } else if (unit == "ms") {
    ms_per_unit = 1;
  } else {
    return invalid("unknown unit '" + unit + "' (use h, m, s or ms; a bare number means hours)");
  }
  const double ms = number * ms_per_unit;
  if (ms < 10) return invalid("a period under 10 ms");
  policy.mode = AutoCompactionPolicy::Mode::kPeriodic;
  policy.period = std::chrono::milliseconds(static_cast<int64_t>(ms));
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
