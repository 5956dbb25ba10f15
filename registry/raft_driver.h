// RaftDriver: runs one Raft core for real — ticks from a timer, messages through the Transport,
// Readys persisted through the LogStore's group-commit writer thread, so the raft thread never
// waits on the disk — on a thread of its own, the raft thread, with its own io_context. It follows
// the contract of raft/ready.h: messages that may leave at once leave at once (a leader replicates
// while its own fsync runs); the rest leave, and committed entries go to the application, once the
// Ready is durable.
//
// Why a thread of its own (DESIGN.md §8: "Raft ticks and peer messages go ahead of client
// traffic"): on the client I/O thread a tick or a heartbeat waited behind every queued client
// handler, and 1,000 busy watchers on a starved machine delayed heartbeats past the election
// timeout (issue 8). Here nothing of the clients' is ever queued ahead of Raft's work, and the
// kernel schedules the raft thread as soon as a tick or a peer message wakes it.
//
// Thread rules: the raft core, the Transport and the log writer's completions are touched by the
// raft thread only. The owner (the server's I/O thread) talks to it by posting: every public
// method may be called from the owner's thread, returns at once, and hands its result to a
// completion that runs on the owner's thread (through the `post` given to Start). `status()`
// reads a copy the raft thread publishes after each step. Callbacks say where they run.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "raft/node.h"

namespace pharos::raft {
class LogStore;
class Transport;
}  // namespace pharos::raft

namespace pharos::registry {

class StorageEngine;

struct RaftDriverOptions {
  uint64_t id = 0;
  std::string listen_peer;  // host:port
  // Peer id -> peer address, this member included.
  std::map<uint64_t, std::string> peers;
  // Bootstraps a new cluster with these voters when the log is empty.
  std::vector<uint64_t> bootstrap_voters;
  int tick_ms = 10;
  int election_min_ticks = 15;
  int election_max_ticks = 30;
  int heartbeat_ticks = 5;
  uint64_t applied = 0;  // what the state machine already applied (restart)
  // How long a leader holds a new commit index back from the followers, waiting for the next
  // proposal's appends to carry it (RaftConfig::defer_commit_broadcast); 0 sends it at once.
  // Followers apply, and their watchers hear, that much later when no proposal follows.
  int commit_linger_us = 200;
  // A raft log write that takes longer than this is logged as a warning: the disk is stalling,
  // and commits wait on it (the raft thread does not: it goes on answering heartbeats). Negative:
  // half the election timeout's lower bound (75 ms by default).
  int warn_log_write_ms = -1;
  // A tick that fires this much after it was due is logged as a warning: the raft thread was busy
  // or starved of CPU, and heartbeats waited on it. Negative: as warn_log_write_ms's default.
  int warn_raft_thread_late_ms = -1;
  // Compact the log once this many entries have been applied since the last compaction.
  uint64_t snapshot_count = 10000;
  // Entries a compaction keeps below the applied index, as etcd keeps 5,000: a follower that fell
  // no further behind (a pause, a restart, a short partition) catches up from the log instead of
  // being sent a snapshot of the whole key-value store.
  uint64_t snapshot_catchup_entries = 5000;
  // Thread-safe: the index up to which the state machine has applied and written every entry.
  // Read on each tick to decide a compaction (empty: the log is never compacted). Polled rather
  // than pushed: a push per applied batch woke this thread, or the owner's, for every put.
  std::function<uint64_t()> applied_index;
  // Stamped on every message we send; messages stamped with another id are dropped. 0: not known
  // yet — adopted from the first message that carries one (a member joining a cluster), and saved
  // (SaveClusterId, synced) on the raft thread before that message reaches the core, so no term,
  // vote or entry it brings is durable without the id.
  uint64_t cluster_id = 0;
};

class RaftDriver {
 public:
  // Runs `fn` on the owner's thread (and, if it never runs it, destroys it there).
  using Post = std::function<void(std::function<void()> fn)>;
  struct SnapshotData {
    std::string data;
    uint64_t applied_index = 0;
  };
  struct Callbacks {
    // Raft thread. The snapshot to restore (if any), then committed entries in order, once
    // durable. Must only queue the work (the apply thread's queue): it runs between heartbeats.
    std::function<void(std::optional<raftpb::Snapshot>, std::vector<raftpb::Entry>)> apply;
    // Raft thread. The state machine's data for a snapshot a follower needs, and the index it
    // had applied when the data was read: `done` gets them (or an error), from any thread, at any
    // time until the driver is destroyed.
    std::function<void(std::function<void(Result<SnapshotData>)> done)> snapshot_data;
    // Owner's thread, in the order the core produced them.
    std::function<void(const raft::ReadState&)> read_state;
    // Owner's thread: the leader, this member's role or the term changed. Every proposal whose
    // ticket is at most `proposals_seen` had reached the core by then: it was taken, or its
    // refusal was handed over before this call.
    std::function<void(const raft::SoftState&, uint64_t term, uint64_t proposals_seen)> soft_state;
    // Owner's thread: the cluster id was not known and a peer's message brought it. The raft
    // thread has already saved it (synced) before stepping that message: only cache it.
    std::function<void(uint64_t cluster_id)> cluster_id_learned;
    // Owner's thread, once: a peer told this member that the cluster removed it, and that is
    // now durable (its data refuses to start from here on). The core takes no more messages.
    std::function<void()> removed;
  };
  using Done = std::function<void(Status)>;

  // Opens the log, binds the peer port and starts the raft thread.
  static Result<std::unique_ptr<RaftDriver>> Start(StorageEngine& storage,
                                                   RaftDriverOptions options, Post post,
                                                   Callbacks callbacks);
  // Stops (if not stopped yet). Completions not run by then are destroyed, on this thread.
  ~RaftDriver();

  // Proposes `data`. `refused` (may be empty) runs only if the core refuses it (NOT_LEADER, say):
  // a proposal taken costs no answer, so the hot path wakes the owner's thread only once, when
  // the entry is applied. Returns the proposal's ticket: 1, 2, 3... in the order of the calls.
  // Proposals made while earlier ones wait for the raft thread join them there and reach the
  // core together, as one append and one message to each follower; so a proposal may reach the
  // core ahead of a call below made before it, never behind one made after it.
  // Completions of the calls below run on the owner's thread in the order of the calls.
  uint64_t Propose(std::string data, Done refused);
  // As Propose; a follower forwards it to the leader. Nobody hears the outcome.
  void ProposeOrForward(std::string data);
  // Proposes a membership change; `done` gets the index its entry landed at.
  void ProposeConfChange(raftpb::ConfChange cc, std::function<void(Status, uint64_t index)> done);
  void AddPeer(uint64_t id, std::string address);
  void RemovePeer(uint64_t id);
  // Its ReadState comes through Callbacks::read_state (never, if the core drops the request).
  void ReadIndex(std::string context);
  void TransferLeader(uint64_t id, Done done);
  // Shutting down: asks the voter furthest along to take over (NOT_FOUND when this member is not
  // leading, or there is no other voter).
  void HandOverLeadership(Done done);
  // Thread-safe: the core's status as the raft thread last published it.
  raft::NodeStatus status() const;
  // Stops ticking, closes peer connections and joins the raft thread. Owner's thread; never from
  // a callback running on the raft thread.
  void Stop();

 private:
  struct Loop;
  RaftDriver(Post post, Callbacks callbacks);
  // Runs `fn` on the raft thread, unless the driver has stopped.
  void RunOnRaftThread(std::function<void()> fn);
  // Hands `fn` to the owner's thread.
  void ToOwner(std::function<void()> fn) const;
  void ScheduleTick();
  // Steps the core's Ready (PumpReady), then lingers a new commit index (MaybeLingerCommit).
  void Pump();
  void PumpReady();
  // The commit index rose and the core holds it back (RaftConfig::defer_commit_broadcast): if
  // no proposal's append carries it to the followers within options_.commit_linger_us, an
  // append of its own does.
  void MaybeLingerCommit();
  // Pump, once the messages read with this one have been stepped too: they make one Ready.
  void PumpAfterThisRead();
  // Hands the Ready's committed entries and confirmed reads over; they wait for no write.
  void HandToApplication(raft::Ready& rd);
  // `configured` if set (not negative), else half the shortest election timeout.
  std::chrono::milliseconds WarningLimit(int configured) const;
  // Logs a raft log write slower than warn_log_write_ms.
  void WarnIfSlow(raft::Role role, std::chrono::steady_clock::duration took);
  // Logs a tick that fired warn_raft_thread_late_ms or more after it was due.
  void WarnIfLate(std::chrono::steady_clock::time_point due);
  void OnPersisted(Status s, raft::Ready ready);
  void Send(std::vector<raftpb::Message> messages);
  // Confirmed reads go to the owner at once: they wait for no write.
  void DeliverReadStates(std::vector<raft::ReadState> states);
  // False (and the message is dropped) when it comes from another cluster, or when it brings the
  // cluster id and saving it failed.
  bool SameCluster(const raftpb::Message& m);
  void PublishStatus();
  // Compacts the log up to snapshot_catchup_entries below the applied index, once snapshot_count
  // entries have accumulated above the last compaction (raft thread). The compaction's synced
  // write also makes the state machine's writes up to there durable. First, it lets the log drop
  // a received snapshot's data once the state machine has applied past it.
  void MaybeCompact();
  // Start: hands the state machine a snapshot the log was cut at but that it never restored.
  Status RestoreReceivedSnapshot();
  // A snapshot's message, its data now read: described by the data's own applied index (raft
  // thread). False when the log no longer holds that index.
  bool DescribeSnapshotByItsData(raftpb::Message& m, const SnapshotData& data);

  Post post_;
  Callbacks callbacks_;
  StorageEngine* storage_ = nullptr;  // outlives the driver
  RaftDriverOptions options_;
  // Declared before what may still post to it (the log writer, the transport), so it goes after.
  std::shared_ptr<Loop> loop_;
  std::unique_ptr<raft::LogStore> log_;
  std::unique_ptr<raft::Transport> transport_;
  std::unique_ptr<raft::Node> node_;

  // Raft thread only.
  bool persisting_ = false;
  bool pump_deferred_ = false;
  bool stopped_ = false;
  uint64_t foreign_dropped_ = 0;
  raft::SoftState told_soft_;  // what the owner was last told
  uint64_t told_term_ = 0;
  uint64_t seen_ticket_ = 0;  // the last proposal that reached the core
  bool compacting_ = false;   // a compaction is being written
  // A received snapshot whose data the log keeps until the state machine has applied this far.
  uint64_t received_snapshot_ = 0;
  bool commit_lingering_ = false;  // the commit_linger timer is armed

  // Proposals waiting for the raft thread, and whether it has been asked to take them.
  struct WaitingProposal {
    uint64_t ticket = 0;
    std::string data;
    Done refused;
  };
  void ProposeWaiting();
  std::mutex proposals_mu_;
  std::vector<WaitingProposal> waiting_proposals_;  // guarded by proposals_mu_
  bool proposals_posted_ = false;                   // guarded by proposals_mu_

  // Owner's thread only.
  bool stopping_ = false;
  uint64_t next_ticket_ = 0;

  mutable std::mutex status_mu_;
  raft::NodeStatus status_;  // guarded by status_mu_
};

}  // namespace pharos::registry
