// Simulation: N Raft cores on a simulated clock and network, driven by one seeded generator so a
// seed replays exactly. The network loses, delays, duplicates and reorders messages and can be
// partitioned (random splits, an isolated leader, one-way links); nodes crash (losing everything
// not yet durable) and restart from their durable storage; clients propose and read; members are
// added, promoted and removed; snapshots compact logs. After every event the SafetyChecker and
// the simulation's own checks (stability, minority term bound, liveness after healing) run.
// Single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "raft/memory_storage.h"
#include "raft/node.h"
#include "raft/snapshot_stream.h"
#include "tests/raft/safety_checker.h"

namespace pharos::raft::sim {

struct SimOptions {
  uint64_t seed = 1;
  int nodes = 3;
  // Events to process before the final heal and liveness check.
  int64_t steps = 50000;
  // Events kept for the trace printed on failure.
  size_t trace_lines = 400;
  // Leaders hold a new commit index back (RaftConfig::defer_commit_broadcast) and send it after
  // kCommitLingerUs unless a proposal's appends carried it first, as pharosd does.
  bool defer_commit_broadcast = false;
};

struct SimResult {
  bool ok = true;
  std::string check;
  std::string detail;
  std::vector<std::string> trace;  // the events before the violation, oldest first
  // Figures that show the run exercised what it claims to.
  int64_t events = 0;
  int64_t sim_time_us = 0;
  int64_t writes_acked = 0;
  int64_t reads_served = 0;
  int64_t follower_reads_served = 0;  // asked of a follower, which forwarded it to the leader
  int64_t rejoins_checked = 0;        // nodes that came back while a stable leader was watched
  int64_t crashes = 0;
  int64_t partitions = 0;
  int64_t snapshots_sent = 0;
  int64_t conf_changes = 0;
  int64_t elections = 0;
  int64_t max_term = 0;
};

class Simulation {
 public:
  explicit Simulation(SimOptions options);
  SimResult Run();

 private:
  enum class EventKind {
    kDeliver,
    kSnapChunk,
    kTick,
    kPersistDone,
    kCrash,
    kRestart,
    kNemesis,
    kClientWrite,
    kClientRead,
    kRejoin,
    kConfChange,
    kStop,
    kCommitLinger
  };
  struct Event {
    Event(EventKind kind, uint64_t node = 0, uint64_t incarnation = 0, raftpb::Message msg = {})
        : kind(kind), node(node), incarnation(incarnation), msg(std::move(msg)) {}
    EventKind kind;
    uint64_t node;
    uint64_t incarnation;
    raftpb::Message msg;
  };
  struct PendingRead {
    uint64_t node;
    uint64_t incarnation;
    uint64_t acked_before;  // highest index of a write acknowledged before the read began
    uint64_t acked_writes;  // SafetyChecker::acked_writes() when it began
    bool on_follower;
  };
  struct SimNode {
    uint64_t id = 0;
    std::unique_ptr<MemoryStorage> storage;  // what survives a crash
    std::unique_ptr<Node> raft;              // null while down
    uint64_t incarnation = 0;
    int64_t tick_phase = 0;
    bool removed = false;
    bool persisting = false;
    bool commit_lingering = false;  // a kCommitLinger event is scheduled
    Ready ready;
    // The state machine (durable, as the KV store is): applied index, hash chain, membership.
    uint64_t sm_index = 0;
    uint64_t sm_chain = 0;
    raftpb::ConfState sm_conf;
    // The client writes it holds (by write id): the value a read returns.
    std::vector<bool> sm_writes;
    std::vector<std::pair<ReadState, PendingRead>> reads_waiting;
    Role seen_role = Role::kFollower;
    uint64_t seen_commit = 0;
    // Last log index handed out for persisting: a Ready starting at or below it truncates.
    uint64_t handed_last = 0;
  };
  struct TraceLine {
    int64_t time;
    std::string text;
  };

  // Event plumbing.
  void Schedule(int64_t at, Event e);
  void Handle(Event& e);
  void Pump(SimNode& n);
  void PumpReady(SimNode& n);
  void FinishPersist(SimNode& n);
  void SendAll(SimNode& from, std::vector<raftpb::Message>& msgs);
  void Send(const raftpb::Message& m);
  bool LinkUp(uint64_t from, uint64_t to) const;
  void Deliver(Event& e);
  // kSnapChunk events carry the stream id in `node` and the chunk's position in `incarnation`.
  void DeliverChunk(uint64_t stream_id, size_t index);

  // Faults and workload.
  void Nemesis();
  void Churn(const std::vector<SimNode*>& members, SimNode* leader);
  void StartQuietPhase();
  void HoldOutMinority();
  void Rejoin();
  void Crash(SimNode& n);
  void Restart(SimNode& n);
  void Partition(const std::vector<std::vector<uint64_t>>& sides);
  void HealNetwork();
  void ClientWrite();
  void ClientRead();
  void TryConfChange();
  void ResolveConfChanges(const SimNode& n, const raftpb::Entry& e);
  void StopRemoved(SimNode& gone);
  void TrySnapshot(SimNode& n);
  void Apply(SimNode& n, const raftpb::Entry& e);
  // Applies the entries not yet applied (a restarted node skips what its state machine holds).
  void ApplyCommitted(SimNode& n, const std::vector<raftpb::Entry>& entries);
  void AnswerReads(SimNode& n);

  // Checks beyond the SafetyChecker.
  void CheckAfterEvent();
  void CheckLeaderMatchTruthful();
  void CheckConfiguration(SimNode& n);
  void CheckOnlyCompleteLogsElectable();
  void CheckStability();
  void CheckMinorityTermBound();
  void CheckLiveness();
  void Fail(std::string check, std::string detail);

  SimNode* Leader();
  SimNode* NodeById(uint64_t id);
  std::vector<SimNode*> LiveMembers();
  RaftConfig ConfigFor(const SimNode& n) const;
  void TraceEvent(std::string text);
  std::string Describe(const raftpb::Message& m) const;
  int64_t Uniform(int64_t lo, int64_t hi);  // [lo, hi]
  bool Chance(double p);

  SimOptions options_;
  std::mt19937_64 rng_;
  int64_t now_ = 0;
  uint64_t seq_ = 0;
  std::map<std::pair<int64_t, uint64_t>, Event> queue_;
  std::map<uint64_t, SimNode> nodes_;
  uint64_t next_node_id_ = 1;
  testing::SafetyChecker checker_;
  SimResult result_;
  std::deque<TraceLine> trace_;

  uint64_t max_size_per_msg_ = 512;

  // Snapshot transfers in progress, each on a connection of its own.
  struct SnapStream {
    uint64_t from = 0, from_incarnation = 0, to = 0, to_incarnation = 0;
    std::vector<raftpb::SnapshotChunk> chunks;
    SnapshotAssembler assembler;
  };
  std::map<uint64_t, SnapStream> streams_;
  uint64_t next_stream_ = 1;

  // Network conditions.
  std::set<std::pair<uint64_t, uint64_t>> blocked_;  // (from, to)
  double loss_ = 0;
  double duplicate_ = 0;
  int64_t delay_max_us_ = 2000;
  bool faults_active_ = false;

  // Phases: chaos (faults injected) and quiet (healed; liveness and stability checked).
  bool quiet_ = false;
  bool churn_ = false;
  int64_t quiet_since_ = 0;
  int64_t chaos_until_ = 0;
  std::optional<int64_t> liveness_write_acked_at_;
  std::string liveness_write_;
  std::optional<std::pair<uint64_t, uint64_t>> stable_leader_;  // (id, term)
  // Stability is watched from a settled state: a minority of voters may be kept away (crashed,
  // or cut off from everyone) until a leader is stable, and then brought back.
  std::set<uint64_t> held_out_;
  int64_t settle_since_ = 0;

  // Minority term bound: node -> highest term it may reach while cut off from a quorum.
  std::map<uint64_t, uint64_t> term_bound_;

  // Client bookkeeping.
  uint64_t next_write_ = 1;
  uint64_t next_read_ = 1;
  struct PendingWrite {
    uint64_t node;
    uint64_t incarnation;
    uint64_t term;
  };
  std::map<std::string, PendingWrite> writes_;
  std::map<std::string, PendingRead> reads_;
  // The writes a snapshot's state machine holds, by snapshot data ("index:chain").
  std::map<std::string, std::vector<bool>> snapshot_writes_;
  uint64_t max_acked_index_ = 0;
  // Membership changes proposed and not yet seen committed or truncated, by log index. Clients
  // do not wait for one to finish before proposing the next: the core must refuse overlaps.
  struct PendingChange {
    std::string data;
    uint64_t joining = 0;  // the node an ADD_LEARNER brings in, stopped if it never joins
  };
  std::map<uint64_t, PendingChange> conf_changes_;
  bool conf_change_pending() const { return !conf_changes_.empty(); }
  // Members whose removal was applied somewhere and whom the operator has yet to stop.
  std::set<uint64_t> to_stop_;
  bool stop_ = false;
};

// The hash chain a state machine holds after applying `e` on top of `chain`.
uint64_t ChainHash(uint64_t chain, const raftpb::Entry& e);

}  // namespace pharos::raft::sim
