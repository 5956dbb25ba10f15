// Node: the Raft consensus core (Ongaro's thesis, in the style of etcd's raft library). A pure,
// deterministic state machine: no sockets, threads, clocks or disk. Time enters through Tick(),
// peers through Step(), the application through Propose()/ProposeConfChange()/ReadIndex()/
// TransferLeader(); everything the core wants done leaves through GetReady() (see ready.h for the
// persistence contract). Randomness comes only from RaftConfig::seed.
//
// Thread rules: not thread-safe. One thread owns a Node and makes every call on it.
//
// Membership: one change at a time (single-server changes, thesis §4.1). A configuration takes
// effect when its entry is appended; a leader appends none until an entry of its own term has
// committed and the previous configuration entry has committed; a truncated configuration entry
// rolls the configuration back; snapshots carry the configuration.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/result.h"
#include "raft/config.h"
#include "raft/membership.h"
#include "raft/progress.h"
#include "raft/raft_log.h"
#include "raft/read_only.h"
#include "raft/ready.h"
#include "raft/storage.h"

namespace pharos::raft {

struct NodeStatus {
  uint64_t id = 0;
  uint64_t term = 0;
  uint64_t vote = 0;
  uint64_t lead = 0;
  Role role = Role::kFollower;
  uint64_t committed = 0;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  bool is_learner = false;
};

class Node {
 public:
  // Restores term, vote, commit, log and membership from `storage`, which must outlive the node.
  // Fails on a bad config, and for a member the durable configuration says was removed.
  static Result<std::unique_ptr<Node>> Create(const RaftConfig& config, const Storage* storage);

  // One unit of logical time.
  void Tick();
  // A message from a peer (or from the transport: MSG_UNREACHABLE, MSG_SNAP_STATUS).
  Status Step(const raftpb::Message& m);
  // Start an election now (pre-vote first when enabled).
  Status Campaign();
  // Leader only: append `data` as a normal entry. kNotLeader elsewhere, kUnavailable while a
  // leadership transfer is in progress.
  Status Propose(std::string data);
  // The same for several entries at once, appended in order and sent to each follower in one
  // message rather than one message per entry. All are taken or all refused.
  Status ProposeBatch(std::vector<std::string> data);
  // Proposes `data` here if this node leads, else forwards it to the leader (MSG_PROP), for
  // internal proposals a follower must make (a member publishing its client address). No
  // outcome comes back: the proposer watches for the entry to be applied, and retries.
  Status ProposeOrForward(std::string data);
  // Leader only: append a configuration change (see the class comment for when it is refused).
  Status ProposeConfChange(const raftpb::ConfChange& cc);
  // Ask for a linearizable read point; answered through Ready::read_states with the same
  // context. Dropped silently when no leader is known (the caller times out and retries).
  void ReadIndex(std::string context);
  // Ask the leader (directly or through this follower) to hand leadership to `transferee`.
  Status TransferLeader(uint64_t transferee);
  void ReportUnreachable(uint64_t id);
  void ReportSnapshot(uint64_t id, bool ok);

  bool HasReady() const;
  Ready GetReady();
  void Advance();
  // Leader with RaftConfig::defer_commit_broadcast: the commit index rose and a follower that may
  // be sent to now has not been sent it yet. The caller decides when: SendDeferredCommit() sends it
  // to those that lack it (and clears this); the next proposal's appends carry it too (and clear
  // this once every such follower has it).
  bool commit_broadcast_pending() const { return commit_broadcast_pending_; }
  void SendDeferredCommit();
  // Messages that may leave now (Ready::messages rule), for callers that send between Readys.
  std::vector<raftpb::Message> TakeSendableMessages();
  // Committed entries that may be applied now (Ready::committed_entries rule), for callers that
  // apply between Readys: while a Ready's write is in flight, entries a quorum (this node's
  // earlier writes among them) has just made committed need not wait for that write.
  std::vector<raftpb::Entry> TakeCommittedEntries();
  // Read states ready now (they depend on nothing being durable), for callers that serve reads
  // between Readys.
  std::vector<ReadState> TakeReadStates();

  uint64_t id() const { return config_.id; }
  uint64_t term() const { return term_; }
  uint64_t vote() const { return vote_; }
  uint64_t lead() const { return lead_; }
  Role role() const { return role_; }
  const RaftLog& log() const { return log_; }
  const raftpb::ConfState& conf_state() const { return membership_.current(); }
  // The configuration as of log index `index` (for the metadata of a snapshot taken there).
  const raftpb::ConfState& ConfStateAt(uint64_t index) const { return membership_.At(index); }
  // Leader only: what it knows of member `id`; nullptr otherwise.
  const Progress* progress(uint64_t id) const;
  uint64_t lead_transferee() const { return lead_transferee_; }
  NodeStatus status() const;
  // The cluster removed this member: its removal committed as far as its own log says, or a
  // peer answered MSG_REMOVED (its log may never hold the removal: it was cut off while the
  // removal committed). From the Ready that says so (its hard state, synced) it neither
  // campaigns nor takes messages, and Create refuses its data afterwards.
  bool removed() const { return removed_; }

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  Node(const RaftConfig& config, const Storage* storage);

  raftpb::HardState CurrentHardState() const;
  // Its latest configuration (uncommitted) removes it; its committed one does not.
  bool OwnRemovalPending() const;
  void AskWhetherRemoved();
  bool Promotable() const;
  bool CommittedEntryInCurrentTerm() const;
  // The election timer restarts, with a timeout drawn afresh (every reset, as DESIGN.md §3 asks).
  void ResetElectionTimer();
  void ResetRandomizedElectionTimeout();
  void Reset(uint64_t term);
  void ResetProgress();
  void SyncProgressWithMembership();
  void BecomeFollower(uint64_t term, uint64_t lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();

  void TickElection();
  void TickHeartbeat();
  void Hup(CampaignType type);
  void StartCampaign(CampaignType type);
  bool QuorumActive();

  void StepLeader(const raftpb::Message& m);
  void StepCandidate(const raftpb::Message& m);
  void StepFollower(const raftpb::Message& m);
  void HandleVoteRequest(const raftpb::Message& m);
  void HandleAppendEntries(const raftpb::Message& m);
  void HandleHeartbeat(const raftpb::Message& m);
  void HandleSnapshot(const raftpb::Message& m);
  void HandleAppendResponse(const raftpb::Message& m, Progress& pr);
  void HandleHeartbeatResponse(const raftpb::Message& m, Progress& pr);
  void HandleTransferLeader(uint64_t transferee);
  void HandleReadIndex(const raftpb::Message& m);
  void ServeReads(std::vector<ReadIndexRequest> reads);
  bool Restore(const raftpb::Snapshot& s);

  void AppendEntries(std::vector<raftpb::Entry> entries);
  bool MaybeCommit();
  void OnCommitAdvanced();
  bool SendAppend(uint64_t to, bool send_if_empty);
  void BcastAppend();
  // After the commit index rose: tells the followers now, or later (defer_commit_broadcast).
  void BcastCommit();
  // Every follower that may be sent to now was sent the current commit index.
  bool CommitReachedFollowers() const;
  // Periodic: the heartbeat interval's, which may retry lost messages when answered. ReadRound:
  // a linearizable read's confirmation, which may not (Progress::heartbeat_retry_armed).
  enum class HeartbeatKind { kPeriodic, kReadRound };
  void BcastHeartbeat(HeartbeatKind kind);
  void SendTimeoutNow(uint64_t to);
  void AbortLeaderTransfer() { lead_transferee_ = 0; }
  void Send(raftpb::Message m);

  RaftConfig config_;
  const Storage* storage_;
  RaftLog log_;
  Membership membership_;
  std::mt19937_64 rng_;

  uint64_t term_ = 0;
  uint64_t vote_ = 0;
  uint64_t lead_ = 0;
  Role role_ = Role::kFollower;
  std::map<uint64_t, Progress> progress_;
  std::map<uint64_t, bool> votes_;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  uint64_t lead_transferee_ = 0;
  bool commit_broadcast_pending_ = false;
  bool removed_ = false;
  ReadOnly read_only_;
  // ReadIndex requests that arrived before an entry of this leader's term committed.
  std::vector<raftpb::Message> pending_read_index_msgs_;
  std::vector<ReadState> read_states_;

  std::vector<raftpb::Message> msgs_now_;
  std::vector<raftpb::Message> msgs_after_persist_;

  // Ready bookkeeping.
  SoftState prev_soft_state_;
  raftpb::HardState handed_hard_state_;     // last hard state put in a Ready
  raftpb::HardState persisted_hard_state_;  // last hard state the application made durable
  bool ready_outstanding_ = false;
  struct InFlight {
    std::optional<raftpb::HardState> hard_state;
    uint64_t last_entry_index = 0;
    uint64_t last_entry_term = 0;
    uint64_t snapshot_index = 0;
    uint64_t applied_to = 0;
  } in_flight_;
};

}  // namespace pharos::raft
