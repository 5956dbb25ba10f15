// Workload: what the harness's clients do during a run, and how what they saw is judged. Each
// workload drives the cluster through the SDK from threads of its own, records what it needs,
// and after the run (faults healed, quiet period over) says whether it did enough to count and
// whether what it saw is correct.
#pragma once

#include <string>
#include <vector>

namespace pharos::jepsen {

// Why a check gave no verdict, when it gave none.
enum class NoVerdict {
  kNone,        // it gave one: `valid` says which
  kUnknown,     // it ran out of time before any anomaly showed (pharos-check's exit 3)
  kUnreadable,  // the history could not be read, or the checker failed (pharos-check's exit 2)
};

struct Verdict {
  bool valid = false;  // false without a verdict too: check `no_verdict` before calling it bad
  NoVerdict no_verdict = NoVerdict::kNone;
  std::string summary;                // one line: "linearizable", "3 holds overlap", ...
  std::vector<std::string> problems;  // each anomaly, for the report
  std::string json;                   // the check's result as JSON, for results.json
};

// pharos-jepsen's exit code, pharos-check's where they meet: 0 correct and the run counts; 1 an
// anomaly; 2 the history could not be checked; 3 no anomaly, but the run proves nothing (it does
// not count, or the check ran out of time). A run without a verdict is never called an anomaly.
inline int RunExitCode(const Verdict& verdict, bool counts) {
  if (verdict.no_verdict == NoVerdict::kUnreadable) return 2;
  if (verdict.no_verdict == NoVerdict::kUnknown) return 3;
  if (!verdict.valid) return 1;
  return counts ? 0 : 3;
}

// results.json's `valid`: true, false, or as pharos-check says it, "unknown" or "unreadable".
inline const char* ValidJson(const Verdict& verdict) {
  switch (verdict.no_verdict) {
    case NoVerdict::kUnknown:
      return "\"unknown\"";
    case NoVerdict::kUnreadable:
      return "\"unreadable\"";
    case NoVerdict::kNone:
      break;
  }
  return verdict.valid ? "true" : "false";
}

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
