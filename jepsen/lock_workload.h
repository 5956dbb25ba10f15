// LockWorkload: contenders take one lock (the SDK's Lock recipe) in a loop, hold it briefly and
// release it, recording each hold's fencing token and its start and end on the machine's
// monotonic clock. Correct: no two holds overlap in real time, and tokens rise with time. A hold
// counts only if its holder still believed it held the lock when it let go (its conservative
// lease deadline had not passed), as a real holder would check before acting.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "jepsen/history_recorder.h"
#include "jepsen/workload.h"

namespace pharos::jepsen {

class LockWorkload : public Workload {
 public:
  LockWorkload(std::vector<std::string> endpoints, int contenders, uint64_t seed,
               HistoryRecorder& history);
  ~LockWorkload() override;
  void Start() override;
  void Stop() override;
  bool Enough(int min_ok_per_key, std::vector<std::string>* why) const override;
  Verdict Check() override;

  struct Hold {
    int process;
    int64_t token;
    int64_t start_ns, end_ns;
  };

 private:
  void Contender(int process);

  std::vector<std::string> endpoints_;
  int contenders_;
  uint64_t seed_;
  HistoryRecorder& history_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::vector<Hold> holds_;
  int lost_ = 0;  // holds given up because the deadline passed mid-hold
};

// The check on its own, for tests: overlapping holds and falling tokens.
Verdict CheckHolds(std::vector<LockWorkload::Hold> holds);

}  // namespace pharos::jepsen
