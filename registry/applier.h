// Applier: the node's apply thread (DESIGN.md §8). It applies committed entries to the MVCC
// store, feeds the WatchHub, keeps the member table, and answers what must be read in order with
// applies: ranges (after a ReadIndex, once the applied index has reached the read index), watch
// set-up and polling, lease state. It also keeps the alarm table (replicated like the members).
// Results go back to the I/O thread through `post`.
//
// Thread rules: the public methods may be called from any thread (they queue work); the
// MvccStore, WatchHub, Lessor and member table are touched only by the apply thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "kvstore/lessor.h"
#include "kvstore/mvcc_store.h"
#include "kvstore/watch_hub.h"
#include "proto/pharos.pb.h"
#include "proto/raft.pb.h"

namespace pharos::registry {

class StorageEngine;

// What applying one client request answered; delivered to the proposer.
struct AppliedRequest {
  uint64_t request_id = 0;
  uint64_t index = 0;
  uint64_t term = 0;
  Status status;
  pb::RaftResponse response;
  int64_t revision = 0;
};

class Applier {
 public:
  using Post = std::function<void(std::function<void()>)>;
  struct Callbacks {
    // Every applied client request (on the I/O thread, through Post).
    std::function<void(AppliedRequest)> applied;
    // Watchers with responses waiting, and the member table after a change (I/O thread).
    std::function<void(int64_t watch_id)> watch_ready;
    std::function<void(std::vector<pb::Member>)> members;
    // The members removed from the table, as they last were: published with the members.
    std::function<void(std::vector<pb::Member>)> removed_members;
    // The active alarms, at start and after every change (I/O thread).
    std::function<void(std::vector<pb::AlarmMember>)> alarms;
  };

  // `member_id`: this member's; the answers to requests other members proposed are not handed on.
  Applier(StorageEngine& storage, uint64_t member_id, Post post, Callbacks callbacks,
          const Clock* clock);
  ~Applier();
  // Opens the store (rebuilding its index) and starts the thread.
  Status Start();
  void Stop();

  // The next committed entries (and a snapshot to restore first), in order.
  void Apply(std::optional<raftpb::Snapshot> snapshot, std::vector<raftpb::Entry> entries);
  // Runs `task` on the apply thread once the applied index reaches `min_index`.
  void RunAt(uint64_t min_index,
             std::function<void(kv::MvccStore&, kv::WatchHub&, kv::Lessor&)> task);
  void Run(std::function<void(kv::MvccStore&, kv::WatchHub&, kv::Lessor&)> task) {
    RunAt(0, std::move(task));
  }
  // Thread-safe: every entry up to it is applied and written (unsynced) to the store.
  uint64_t applied_index() const { return applied_.load(); }
  size_t keys() const { return keys_.load(); }
  size_t leases() const { return leases_.load(); }
  size_t watchers() const { return watchers_.load(); }
  int64_t revision() const { return revision_.load(); }
  int64_t compact_revision() const { return compact_revision_.load(); }
  // What a Raft snapshot carries besides the store's state, to go before the store's data: the
  // member table (names, addresses) and the alarm table. A member that catches up by snapshot
  // has no other way to learn them: without the members it gives no NOT_LEADER hint and lists
  // members short; without the alarms it accepts the writes a NOSPACE alarm makes the others
  // refuse. Apply thread only (inside Run).
  std::string SnapshotPrefix() const;

 private:
  using Task = std::function<void(kv::MvccStore&, kv::WatchHub&, kv::Lessor&)>;
  void Enqueue(std::function<void()> work);
  void Loop();
  void ApplyNow(const std::optional<raftpb::Snapshot>& snapshot,
                const std::vector<raftpb::Entry>& entries);
  void ApplyEntry(const raftpb::Entry& e);
  void RunWaiting();
  // Replaces the store's state, and the member and alarm tables the snapshot carried, with the
  // snapshot's, in one synced write; the removed members it carried join ours (a removal is for
  // good).
  void Restore(const raftpb::Snapshot& snapshot);
  void PublishMembers();
  static pb::MemberListResponse RemovedMembers(const std::map<uint64_t, pb::Member>& removed);
  // Whether this member proposed `req`, so that a request of its own waits for the answer.
  bool Ours(const pb::RaftRequest& req) const;
  // Raises or clears an alarm and persists the set; answers what is active after it.
  pb::AlarmResponse ApplyAlarm(const pb::AlarmRequest& request);
  pb::AlarmResponse ActiveAlarms() const;
  void PublishAlarms();

  StorageEngine& storage_;
  const uint64_t member_id_;
  Post post_;
  Callbacks callbacks_;
  const Clock* clock_;
  std::unique_ptr<kv::MvccStore> store_;
  std::unique_ptr<kv::WatchHub> hub_;
  std::unique_ptr<kv::Lessor> lessor_;
  std::map<uint64_t, pb::Member> members_;
  std::map<uint64_t, pb::Member> removed_members_;  // ids are never reused: kept for good
  std::set<std::pair<uint64_t, int>> alarms_;       // (member id, pb::AlarmType)

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::multimap<uint64_t, Task> waiting_;  // apply thread only
  std::vector<AppliedRequest> answers_;    // apply thread only: the batch's, sent at its end
  std::atomic<uint64_t> applied_{0};
  std::atomic<int64_t> revision_{0};
  std::atomic<int64_t> compact_revision_{0};
  std::atomic<size_t> keys_{0}, leases_{0}, watchers_{0};
  std::thread thread_;
};

}  // namespace pharos::registry
