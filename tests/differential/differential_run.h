// RunDifferential: one seeded sequence of requests (KvOperationGenerator) sent to a reference
// server and to the server under test, one request at a time, each target's lease ids translated
// (LeaseIdMap), every pair of answers compared as ResponseText. It stops at the first difference:
// after it the two states may differ, and what follows would only repeat it.
//
// The report also counts what the run exercised (outcome labels such as "range:COMPACTED" or
// "txn:succeeded"), so a test can require that the sequence reached every case it claims to
// compare, instead of trusting that it did.
//
// Thread rules: one thread; the targets are used by it alone while it runs.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "tests/differential/kv_target.h"

namespace pharos::differential {

struct Difference {
  int64_t operation = 0;  // 1-based
  std::string request;
  std::string reference;  // ResponseText of each answer
  std::string subject;
  std::string reference_error;  // the error's own message, when the answer was one
  std::string subject_error;
  std::deque<std::string> before;  // the last requests and answers that agreed
};

struct RunReport {
  int64_t operations = 0;  // requests both answered alike
  std::optional<Difference> difference;
  std::map<std::string, int64_t> outcomes;  // label -> count
};

RunReport RunDifferential(uint64_t seed, int64_t operations, KvTarget& reference,
                          KvTarget& subject);

// The report as text: the counts, and the difference with its context.
std::string Describe(const RunReport& report);

}  // namespace pharos::differential
