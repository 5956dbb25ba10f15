// RegistryWorkload: service instances come and go through the SDK while discovery clients watch
// `/services/<svc>/`. Each instance slot, in a loop, registers a fresh instance (lease grant, its
// record put with the lease, keepalives), lives a while, then either deregisters (record deleted,
// lease revoked) or dies silently (its keepalives just stop, so the cluster must expire it). A
// poller reads the records of dead instances until they are gone, which dates each expiry. All of
// it, and every change of every discovery client's view, goes into history.jsonl (the `f` values
// are in registry_check.h), and the views are judged against it: nothing lost, nothing stale
// beyond TTL plus the stated grace, nothing invented; at the end every view must also equal what
// the cluster holds.
//
// Thread rules: Start, Stop, Enough and Check from the control thread; instance slots and the
// poller are its own threads; discovery callbacks run on their clients' I/O threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "jepsen/history_recorder.h"
#include "jepsen/workload.h"

namespace pharos::client {
class Client;
class Discovery;
class LeaseKeepAlive;
}  // namespace pharos::client

namespace pharos::jepsen {

struct RegistryWorkloadOptions {
  std::vector<std::string> endpoints;
  int instances = 10;  // concurrent instance slots
  int discoveries = 2;
  uint64_t seed = 1;
  std::string service = "jepsen";
  int64_t ttl_seconds = 3;
  // How long a view may lag the committed history (arrival, deregistration, on top of the TTL
  // for an expiry): room for a fault to end and a watch to resume or a new leader to expire.
  std::chrono::milliseconds grace{8000};
};

class RegistryWorkload : public Workload {
 public:
  RegistryWorkload(RegistryWorkloadOptions options, HistoryRecorder& history);
  ~RegistryWorkload() override;
  void Start() override;
  void Stop() override;
  bool Enough(int min_ok_per_key, std::vector<std::string>* why) const override;
  Verdict Check() override;

 private:
  struct Live {  // an instance still registered when the workload stopped
    int process;
    std::string key;
    int64_t lease;
    std::unique_ptr<client::LeaseKeepAlive> keepalive;
    std::shared_ptr<std::atomic<bool>> lost;
  };
  struct Pending {  // keepalives stopped; the record is not yet seen gone
    int process;
    std::string key;
    int64_t lease;
    int64_t invoked_at;
  };
  void Slot(int slot);
  void Poller();
  void Expire(int process, const std::string& key, int64_t lease, int64_t alive_until);
  std::string KeyOf(int process) const;

  RegistryWorkloadOptions options_;
  HistoryRecorder& history_;
  std::atomic<bool> stop_{false}, stop_poller_{false};
  std::atomic<int> next_process_{0};
  std::atomic<int> registered_{0}, deregistered_{0}, expired_{0};
  std::vector<std::unique_ptr<client::Client>> clients_;  // one per slot, then the poller's
  std::vector<std::unique_ptr<client::Client>> discovery_clients_;
  std::vector<std::unique_ptr<client::Discovery>> discoveries_;
  std::vector<int64_t> discovery_processes_;
  std::vector<std::thread> threads_;
  std::thread poller_;
  std::mutex mu_;
  std::vector<Live> live_;
  std::vector<Pending> pending_;
};

}  // namespace pharos::jepsen
