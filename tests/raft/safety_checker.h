// SafetyChecker: Raft's safety properties (Raft §5.2–5.4, Figure 3) written once, fed by whoever
// drives Raft cores — the simulation after every event, unit tests where they like. Each
// violation is reported with the name of the property it breaks, so a failing run (or a caught
// mutant) says which check fired. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "proto/raft.pb.h"
#include "raft/node.h"

namespace pharos::raft::testing {

struct Violation {
  std::string check;   // e.g. "ElectionSafety"
  std::string detail;  // what was seen
};

class SafetyChecker {
 public:
  // Election Safety: at most one leader per term.
  void ObserveRole(uint64_t node, uint64_t term, Role role);
  // A node made `entries` durable; `prev_term` is the term its log holds just before the first
  // of them; `replaced` lists the (index, term) its durable log held from the first new index on,
  // all of which the write replaces. Checks Log Matching and that no durable committed entry is
  // ever truncated.
  void ObservePersist(uint64_t node, const std::vector<raftpb::Entry>& entries, uint64_t prev_term,
                      const std::vector<std::pair<uint64_t, uint64_t>>& replaced);
  // A node's commit index reached `commit`; `term_at` gives its log's term at an index (nullopt
  // if compacted). Records the committed entries and checks they never change.
  template <typename TermAt>
  void ObserveCommit(uint64_t node, uint64_t commit, const TermAt& term_at);
  // Leader Completeness (Raft §5.4): a node that just became leader of a term holds every entry
  // committed in an earlier term. An entry first seen committed while a leader of this term or a
  // later one already existed is not required: a vote granted in term T can reach its candidate
  // after a leader of term T+1 has committed entries the candidate lacks, and that stale leader
  // can commit nothing.
  template <typename TermAt>
  void ObserveNewLeader(uint64_t node, uint64_t term, uint64_t last_index, uint64_t first_index,
                        const TermAt& term_at);
  // State Machine Safety: every node applies the same entry at each index, in order, no gaps.
  // `chain` is the node's hash chain after applying; nodes must agree on it at every index.
  void ObserveApply(uint64_t node, uint64_t index, uint64_t term, uint64_t chain);
  // A node restored its state machine from a snapshot at `index` with hash chain `chain`.
  void ObserveSnapshotRestore(uint64_t node, uint64_t index, uint64_t chain);
  // ReadIndex: a read that began after writes up to `acked_index` were acknowledged must be
  // served at a read index of at least that (the leader's commit index covers every write it or
  // an earlier leader acknowledged).
  void ObserveRead(uint64_t node, uint64_t read_index, uint64_t acked_before_start);

  // Linearizable reads, checked on the value a read returns: the state machine is modelled as the
  // set of client writes it holds. A write is acknowledged once (`write` is its id); a read takes
  // `acked_writes()` when it begins; when `node` answers it, `holds(write)` must be true of every
  // write acknowledged before that. The caller promises that a node's state machine only gains
  // writes, except when it is replaced by a snapshot (ObserveSnapshotRestore), so each node's
  // answers are checked in amortized constant time.
  void ObserveWriteAcked(uint64_t write);
  uint64_t acked_writes() const { return acked_.size(); }
  template <typename Holds>
  void ObserveReadAnswered(uint64_t node, uint64_t acked_before_start, const Holds& holds);

  // A follower handled an AppendEntries from the leader whose commit index was `leader_commit` and
  // that matched its log up to `last_matched` (prev index + entries). Its commit index may move
  // to min(leader_commit, last_matched) and no further: its log beyond may be a stale suffix.
  void ObserveFollowerAppend(uint64_t node, uint64_t commit_before, uint64_t commit_after,
                             uint64_t leader_commit, uint64_t last_matched);

  // A leader of `term` appended a configuration entry. Single-server changes are safe only if
  // an entry of the leader's own term had committed (`term_at_commit` is its log's term at its
  // commit index) and no earlier configuration entry was still uncommitted: otherwise two changes
  // from one configuration, by leaders of different terms, can have disjoint majorities.
  void ObserveConfigurationAppended(uint64_t leader, uint64_t term, uint64_t term_at_commit,
                                    bool earlier_change_uncommitted);

  // Membership (thesis §4.1): a configuration takes effect when its entry is appended, so the
  // configuration a node acts on must be the one its own log gives: `base` (its snapshot's)
  // followed by the configuration entries among `entries` (its log after the snapshot). A
  // truncated configuration entry must take its configuration with it.
  void ObserveConfiguration(uint64_t node, const raftpb::ConfState& in_force,
                            const raftpb::ConfState& base,
                            const std::vector<raftpb::Entry>& entries);

  // A message is leaving `node`, whose durable state is `durable` (hard state) and whose durable
  // log ends at `durable_last`. What the message promises must already survive a crash: a vote
  // request or grant its vote and term, an acknowledgement the entries it acknowledges.
  void ObserveSend(const raftpb::Message& m, const raftpb::HardState& durable,
                   uint64_t durable_last);

  const std::optional<Violation>& violation() const { return violation_; }
  void Fail(std::string check, std::string detail);
  uint64_t max_committed() const { return max_committed_; }
  // Term of the committed entry at `index`, if it was recorded.
  std::optional<uint64_t> committed_term(uint64_t index) const {
    auto it = committed_.find(index);
    if (it == committed_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::optional<Violation> violation_;
  std::map<uint64_t, uint64_t> leader_of_term_;
  // (index, term) -> (data hash, previous entry's term): Log Matching by induction.
  std::map<std::pair<uint64_t, uint64_t>, std::pair<uint64_t, uint64_t>> entries_;
  // index -> term of the committed entry.
  std::map<uint64_t, uint64_t> committed_;
  // index -> the highest term any leader had reached when the entry was first seen committed
  // (at least the term of the leader that committed it).
  std::map<uint64_t, uint64_t> committed_era_;
  uint64_t max_leader_term_ = 0;
  uint64_t max_committed_ = 0;
  // index -> hash chain after applying it.
  std::map<uint64_t, uint64_t> applied_chain_;
  std::map<uint64_t, uint64_t> last_applied_;
  // Acknowledged writes in order, and per node how many of them its state machine was seen to
  // hold (reset when a snapshot replaces it).
  std::vector<uint64_t> acked_;
  std::map<uint64_t, uint64_t> holds_prefix_;
};

uint64_t HashEntry(const raftpb::Entry& e);

template <typename TermAt>
void SafetyChecker::ObserveCommit(uint64_t node, uint64_t commit, const TermAt& term_at) {
  for (uint64_t i = commit; i > 0; --i) {
    std::optional<uint64_t> t = term_at(i);
    if (!t) break;  // compacted: those were checked when they were committed
    auto [it, inserted] = committed_.emplace(i, *t);
    if (inserted) committed_era_.emplace(i, max_leader_term_);
    if (!inserted) {
      if (it->second != *t) {
        Fail("StateMachineSafety", "node " + std::to_string(node) + " committed index " +
                                       std::to_string(i) + " at term " + std::to_string(*t) +
                                       " but term " + std::to_string(it->second) +
                                       " was committed there before");
        return;
      }
      if (i <= max_committed_) break;  // the rest was recorded already
    }
  }
  if (commit > max_committed_) max_committed_ = commit;
}

template <typename TermAt>
void SafetyChecker::ObserveNewLeader(uint64_t node, uint64_t term, uint64_t last_index,
                                     uint64_t first_index, const TermAt& term_at) {
  for (const auto& [index, committed_term] : committed_) {
    if (index < first_index) continue;               // inside the leader's snapshot
    if (committed_era_.at(index) >= term) continue;  // committed after this term's election
    std::optional<uint64_t> t = index <= last_index ? term_at(index) : std::nullopt;
    if (!t || *t != committed_term) {
      Fail("LeaderCompleteness",
           "node " + std::to_string(node) + " became leader of term " + std::to_string(term) +
               " without committed entry " + std::to_string(index) + "@" +
               std::to_string(committed_term) + " (its log: last " + std::to_string(last_index) +
               (t ? ", term there " + std::to_string(*t) : std::string(", no entry there")) + ")");
      return;
    }
  }
}

template <typename Holds>
void SafetyChecker::ObserveReadAnswered(uint64_t node, uint64_t acked_before_start,
                                        const Holds& holds) {
  uint64_t& prefix = holds_prefix_[node];
  for (; prefix < acked_before_start && prefix < acked_.size(); ++prefix) {
    if (!holds(acked_[prefix])) {
      Fail("LinearizableRead", "node " + std::to_string(node) + " answered a read from a state " +
                                   "machine without write " + std::to_string(acked_[prefix]) +
                                   ", acknowledged before the read began");
      return;
    }
  }
}

}  // namespace pharos::raft::testing
