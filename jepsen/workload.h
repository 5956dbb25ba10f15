// Workload: what the harness's clients do during a run, and how what they saw is judged. Each
// workload drives the cluster through the SDK from threads of its own, records what it needs,
// and after the run (faults healed, quiet period over) says whether it did enough to count and
// whether what it saw is correct.
#pragma once

#include <string>
#include <vector>

namespace pharos::jepsen {

struct Verdict {
  bool valid = false;
  std::string summary;                // one line: "linearizable", "3 holds overlap", ...
  std::vector<std::string> problems;  // each anomaly, for the report
  std::string json;                   // the check's result as JSON, for results.json
};

class Workload {
 public:
  virtual ~Workload() = default;
  virtual void Start() = 0;
  virtual void Stop() = 0;
  // Did the run do enough to prove anything? (A history of only failures proves nothing.) Each
  // key the workload checks needs `min_ok_per_key` operations that succeeded; what a key is
  // depends on the workload (a register, the watched prefix, the lock, the service).
  virtual bool Enough(int min_ok_per_key, std::vector<std::string>* why) const = 0;
  // Judges what was seen; runs after Stop, with the cluster still up and healed.
  virtual Verdict Check() = 0;
};

}  // namespace pharos::jepsen
