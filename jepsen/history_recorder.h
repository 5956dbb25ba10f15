// HistoryRecorder: the operations of a run as they happen, one JSON object per line in real-time
// order (the format `pharos-check` reads: process, type, f, key, value, time), plus the latency
// of each completed operation for the report. Times are nanoseconds since the run began.
//
// A history that lost a line (the file could not be created, or a write failed: a full or failing
// disk) stays lost: the first error sticks, and Flush reports it from then on, so that a history
// cut short is never checked as if it were complete.
//
// Thread rules: thread-safe; every worker records through one recorder.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace pharos::jepsen {

struct Completed {
  int64_t invoke_ns = 0;
  int64_t complete_ns = 0;
  std::string type;  // ok | fail | info
  std::string f;
};

class HistoryRecorder {
 public:
  explicit HistoryRecorder(const std::string& path);
  ~HistoryRecorder();

  int64_t Now() const;
  // `value_json` is already JSON (null, a string literal, a number, an array).
  int64_t Invoke(int process, const std::string& f, const std::string& key,
                 const std::string& value_json);
  void Complete(int process, const std::string& type, const std::string& f, const std::string& key,
                const std::string& value_json, int64_t invoked_at);
  // An observation, not an operation: one `ok` line with no invoke (a discovery client's view
  // changing); it is in the history but not among the report's operations.
  void Observe(int process, const std::string& f, const std::string& key,
               const std::string& value_json);
  // An operation for the report's latency and throughput only (workloads whose history is not
  // a register history).
  void Note(const std::string& type, const std::string& f, int64_t invoked_at);
  std::vector<Completed> completed() const;
  // Everything recorded so far is in the file (before another program reads it); IoError if any
  // line did not reach it, now or at any time before.
  Status Flush();
  const std::string& path() const { return path_; }

 private:
  void Write(int process, const std::string& type, const std::string& f, const std::string& key,
             const std::string& value_json, int64_t time);
  void NoteErrorLocked(const char* what, int error_number);

  const std::string path_;
  const int64_t start_ns_;
  FILE* file_;
  mutable std::mutex mu_;
  std::vector<Completed> completed_;
  std::string error_;  // the first write error, empty while there is none
};

// A JSON string literal.
std::string JsonString(const std::string& s);

}  // namespace pharos::jepsen
