// WatchWorkload: writers put new keys under one prefix while several watchers (each its own
// client, each starting on a different member) watch it. Correct: every watcher receives the
// same events, in revision order, without gaps or repeats, and they are exactly the writes the
// cluster holds at the end — every acknowledged one among them — each with the key, type and
// value the cluster holds (jepsen/watch_check.h judges).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "jepsen/history_recorder.h"
#include "jepsen/watch_check.h"
#include "jepsen/workload.h"

namespace pharos::client {
class Client;
class Watcher;
}  // namespace pharos::client

namespace pharos::jepsen {

class WatchWorkload : public Workload {
 public:
  WatchWorkload(std::vector<std::string> endpoints, int writers, int watchers,
                HistoryRecorder& history);
  ~WatchWorkload() override;
  void Start() override;
  void Stop() override;
  bool Enough(int min_ok_per_key, std::vector<std::string>* why) const override;
  Verdict Check() override;

 private:
  struct Seen {
    std::mutex mu;
    std::vector<WatchedEvent> events;
  };
  void Writer(int process);

  std::vector<std::string> endpoints_;
  int writers_, watchers_;
  HistoryRecorder& history_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<client::Client>> watch_clients_;
  std::vector<std::unique_ptr<Seen>> seen_;
  std::vector<std::unique_ptr<client::Watcher>> watches_;
  mutable std::mutex mu_;
  std::vector<AckedWrite> acked_;
};

}  // namespace pharos::jepsen
