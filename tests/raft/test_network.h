// TestNetwork: Raft nodes wired together in memory for unit tests. Messages are delivered
// synchronously, each node's Ready is processed exactly as the contract in raft/ready.h asks
// (persist to its MemoryStorage, send, apply, Advance), and links can be cut. No threads, no
// clocks: time moves only when a test ticks a node.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "raft/memory_storage.h"
#include "raft/node.h"
#include "tests/raft/safety_checker.h"

namespace pharos::raft::testing {

class TestNetwork {
 public:
  // A cluster whose initial voters are `ids`; `tweak` adjusts each node's config.
  explicit TestNetwork(const std::vector<uint64_t>& ids,
                       std::function<void(RaftConfig&)> tweak = nullptr);

  Node& node(uint64_t id) { return *nodes_.at(id).node; }
  MemoryStorage& storage(uint64_t id) { return *nodes_.at(id).storage; }
  // Data of the normal (non-empty) entries each node applied, in order.
  const std::vector<std::string>& applied(uint64_t id) { return nodes_.at(id).applied; }
  const std::vector<ReadState>& read_states(uint64_t id) { return nodes_.at(id).read_states; }

  // A node joining later, with an empty log.
  void AddEmptyNode(uint64_t id);
  // Restarts a node from its storage (everything it processed was persisted).
  Status Restart(uint64_t id);
  // Stops a node; messages to it are dropped until it restarts.
  void Stop(uint64_t id);

  // Processes Readys and delivers messages until nothing moves.
  void Settle();
  void Tick(uint64_t id, int times = 1);
  void TickAll(int times = 1);
  // Ticks everyone until some node leads (bounded); returns its id or 0.
  uint64_t ElectLeader(int max_ticks = 200);
  uint64_t Leader() const;

  // Drops every message between a and b (both ways) / everything to and from `id`.
  void Cut(uint64_t a, uint64_t b);
  void Isolate(uint64_t id);
  void Heal() { cut_.clear(); }
  // Messages sent are also passed to `observer` (for tests that inspect traffic).
  void Observe(std::function<void(const raftpb::Message&)> observer) {
    observer_ = std::move(observer);
  }
  // The safety properties, checked after every delivery and Ready (Settle throws on a
  // violation, so every unit test built on this network checks them too).
  const SafetyChecker& checker() const { return checker_; }

  // When set, a message for which `filter` returns false is dropped; the filter may also edit
  // the message on its way.
  void Filter(std::function<bool(raftpb::Message&)> filter) { filter_ = std::move(filter); }

 private:
  struct Peer {
    std::unique_ptr<MemoryStorage> storage;
    std::unique_ptr<Node> node;
    RaftConfig config;
    std::vector<std::string> applied;
    std::vector<ReadState> read_states;
    bool up = true;
    uint64_t chain = 0;  // hash chain of everything applied, for State Machine Safety
    uint64_t applied_index = 0;
    Role seen_role = Role::kFollower;
  };
  bool ProcessReady(uint64_t id);
  void Send(const raftpb::Message& m);
  void Check();

  std::function<void(RaftConfig&)> tweak_;
  std::map<uint64_t, Peer> nodes_;
  std::deque<raftpb::Message> in_flight_;
  std::set<std::pair<uint64_t, uint64_t>> cut_;
  std::function<void(const raftpb::Message&)> observer_;
  std::function<bool(raftpb::Message&)> filter_;
  SafetyChecker checker_;
};

// A config with the defaults the core ships with and a fixed seed.
RaftConfig TestConfig(uint64_t id);

}  // namespace pharos::raft::testing
