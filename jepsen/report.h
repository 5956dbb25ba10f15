// Report: what a person reads after a run — a text summary and an HTML page with pictures: the
// fault timeline, every operation's latency over time colored ok / fail / info, and throughput.
#pragma once

#include <string>
#include <vector>

#include "jepsen/history_recorder.h"
#include "jepsen/nemesis.h"

namespace pharos::jepsen {

struct RunSummary {
  std::string workload, nemesis;
  int nodes = 0;
  uint64_t seed = 0;
  double seconds = 0;
  std::string verdict;  // "linearizable", "NOT linearizable", or why the run does not count
  bool counts = false;  // enough ok operations, every fault healed, every member took a write
  std::vector<std::string> notes;
};

std::string SummaryText(const RunSummary& run, const std::vector<Completed>& ops,
                        const std::vector<Fault>& faults);
std::string ReportHtml(const RunSummary& run, const std::vector<Completed>& ops,
                       const std::vector<Fault>& faults);

}  // namespace pharos::jepsen
