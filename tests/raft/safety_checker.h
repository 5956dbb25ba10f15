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
  // Leader Completeness: a node that just became leader holds every committed entry.
  template <typename TermAt>
  void ObserveNewLeader(uint64_t node, uint64_t term, uint64_t last_index, uint64_t first_index,
                        const TermAt& term_at);
  // State Machine Safety: every node applies the same entry at each index, in order, no gaps.
  // `chain` is the node's hash chain after applying; nodes must agree on it at every index.
  void ObserveApply(uint64_t node, uint64_t index, uint64_t term, uint64_t chain);
  // A node restored its state machine from a snapshot at `index` with hash chain `chain`.
  void ObserveSnapshotRestore(uint64_t node, uint64_t index, uint64_t chain);
  // Linearizable reads: a read that began after writes up to `acked_index` were acknowledged
  // must be served at a read index of at least that.
  void ObserveRead(uint64_t node, uint64_t read_index, uint64_t acked_before_start);

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
  uint64_t max_committed_ = 0;
  // index -> hash chain after applying it.
  std::map<uint64_t, uint64_t> applied_chain_;
  std::map<uint64_t, uint64_t> last_applied_;
};

uint64_t HashEntry(const raftpb::Entry& e);

template <typename TermAt>
void SafetyChecker::ObserveCommit(uint64_t node, uint64_t commit, const TermAt& term_at) {
  for (uint64_t i = commit; i > 0; --i) {
    std::optional<uint64_t> t = term_at(i);
    if (!t) break;  // compacted: those were checked when they were committed
    auto [it, inserted] = committed_.emplace(i, *t);
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
    if (index < first_index) continue;  // inside the leader's snapshot
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

}  // namespace pharos::raft::testing
