// RegisterWorkload: concurrent processes doing read / write / compare-and-set on a few keys
// through the SDK, every operation recorded for the linearizability checker. A write or cas whose
// outcome is unknown is recorded as `info`, and its process is retired (a new process id takes
// its place), as the history format requires.
//
// Thread rules: Start and Stop from the control thread; the workers are its own threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "jepsen/history_recorder.h"
#include "jepsen/workload.h"

namespace pharos::jepsen {

struct RegisterWorkloadOptions {
  std::vector<std::string> endpoints;
  int processes = 10;
  int keys = 4;
  uint64_t seed = 1;
  std::chrono::milliseconds timeout{2000};
  std::string checker;       // the pharos-check binary
  std::string results_path;  // where its JSON verdict goes
};

class RegisterWorkload : public Workload {
 public:
  RegisterWorkload(RegisterWorkloadOptions options, HistoryRecorder& history);
  ~RegisterWorkload() override;

  void Start() override;
  void Stop() override;
  // Every key needs enough completed ok operations for the run to count.
  bool Enough(int min_ok_per_key, std::vector<std::string>* why) const override;
  // pharos-check on the history: linearizable per key, or the smallest window that is not.
  Verdict Check() override;

 private:
  void Worker(int slot);

  RegisterWorkloadOptions options_;
  HistoryRecorder& history_;
  std::atomic<bool> stop_{false};
  std::atomic<int> next_process_;
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::map<std::string, int> ok_per_key_;
};

}  // namespace pharos::jepsen
