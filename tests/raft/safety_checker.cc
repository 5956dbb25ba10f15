#include "tests/raft/safety_checker.h"

#include <algorithm>
#include <functional>

#include "raft/membership.h"

namespace pharos::raft::testing {

uint64_t HashEntry(const raftpb::Entry& e) {
  const uint64_t h = std::hash<std::string>()(e.data());
  return h * 31 + static_cast<uint64_t>(e.type());
}

void SafetyChecker::Fail(std::string check, std::string detail) {
  if (!violation_) violation_ = Violation{std::move(check), std::move(detail)};
}

void SafetyChecker::ObserveRole(uint64_t node, uint64_t term, Role role) {
  if (role != Role::kLeader) return;
  max_leader_term_ = std::max(max_leader_term_, term);
  auto [it, inserted] = leader_of_term_.emplace(term, node);
  if (!inserted && it->second != node) {
    Fail("ElectionSafety", "nodes " + std::to_string(it->second) + " and " + std::to_string(node) +
                               " both leader in term " + std::to_string(term));
  }
}

void SafetyChecker::ObservePersist(uint64_t node, const std::vector<raftpb::Entry>& entries,
                                   uint64_t prev_term,
                                   const std::vector<std::pair<uint64_t, uint64_t>>& replaced) {
  if (entries.empty()) return;
  const uint64_t first = entries.front().index();
  const uint64_t last = entries.back().index();
  for (const auto& [index, old_term] : replaced) {
    auto c = committed_.find(index);
    if (c == committed_.end() || c->second != old_term) continue;
    if (index <= last && entries[index - first].term() == old_term) continue;
    Fail("CommittedEntryKept", "node " + std::to_string(node) + " overwrote committed entry " +
                                   std::to_string(index) + "@" + std::to_string(old_term) +
                                   " when persisting entries " + std::to_string(first) + ".." +
                                   std::to_string(last));
    return;
  }
  uint64_t prev = prev_term;
  for (const raftpb::Entry& e : entries) {
    const auto key = std::make_pair(e.index(), e.term());
    const auto value = std::make_pair(HashEntry(e), prev);
    auto [it, inserted] = entries_.emplace(key, value);
    if (!inserted && it->second != value) {
      Fail("LogMatching", "node " + std::to_string(node) + " holds entry " +
                              std::to_string(e.index()) + "@" + std::to_string(e.term()) +
                              (it->second.first != value.first ? " with different data"
                                                               : " after a different entry") +
                              " than another node");
      return;
    }
    prev = e.term();
  }
}

void SafetyChecker::ObserveApply(uint64_t node, uint64_t index, uint64_t term, uint64_t chain) {
  auto& last = last_applied_[node];
  if (index != last + 1) {
    Fail("StateMachineSafety", "node " + std::to_string(node) + " applied index " +
                                   std::to_string(index) + " after " + std::to_string(last));
    return;
  }
  last = index;
  auto c = committed_.find(index);
  if (c != committed_.end() && c->second != term) {
    Fail("StateMachineSafety", "node " + std::to_string(node) + " applied " +
                                   std::to_string(index) + "@" + std::to_string(term) + " but " +
                                   std::to_string(index) + "@" + std::to_string(c->second) +
                                   " was committed");
    return;
  }
  auto [it, inserted] = applied_chain_.emplace(index, chain);
  if (!inserted && it->second != chain) {
    Fail("StateMachineSafety", "node " + std::to_string(node) + " applied a different entry at " +
                                   std::to_string(index) + " than another node");
  }
}

void SafetyChecker::ObserveSnapshotRestore(uint64_t node, uint64_t index, uint64_t chain) {
  holds_prefix_[node] = 0;  // its state machine was replaced: check it afresh
  auto it = applied_chain_.find(index);
  if (it != applied_chain_.end() && it->second != chain) {
    Fail("StateMachineSafety", "node " + std::to_string(node) + " restored a snapshot at " +
                                   std::to_string(index) +
                                   " that differs from what others applied");
    return;
  }
  applied_chain_.emplace(index, chain);
  last_applied_[node] = index;
}

void SafetyChecker::ObserveSend(const raftpb::Message& m, const raftpb::HardState& durable,
                                const uint64_t durable_last) {
  const bool vote_request = m.type() == raftpb::MSG_VOTE;
  const bool vote_grant = m.type() == raftpb::MSG_VOTE_RESP && !m.reject();
  if (vote_request || vote_grant) {
    const uint64_t candidate = vote_request ? m.from() : m.to();
    const bool durable_vote =
        durable.term() > m.term() || (durable.term() == m.term() && durable.vote() == candidate);
    if (!durable_vote) {
      Fail("VoteDurableBeforeReply",
           "node " + std::to_string(m.from()) + " sent a " +
               (vote_request ? "vote request" : "vote for " + std::to_string(candidate)) +
               " in term " + std::to_string(m.term()) + " while its durable state is term " +
               std::to_string(durable.term()) + ", vote " + std::to_string(durable.vote()));
    }
  } else if (m.type() == raftpb::MSG_APP_RESP && !m.reject() && m.index() > durable_last &&
             durable.term() <= m.term()) {
    // (An acknowledgement made in an older term may trail a truncation by a newer leader: like
    // one delayed by the network, it was true when made, and that is all Raft needs.)
    Fail("AckDurableBeforeReply", "node " + std::to_string(m.from()) + " acknowledged index " +
                                      std::to_string(m.index()) + " but its durable log ends at " +
                                      std::to_string(durable_last));
  }
}

void SafetyChecker::ObserveRead(uint64_t node, uint64_t read_index, uint64_t acked_before_start) {
  if (read_index < acked_before_start) {
    Fail("ReadIndexCoversAckedWrites",
         "node " + std::to_string(node) + " served a read at index " + std::to_string(read_index) +
             " though a write at index " + std::to_string(acked_before_start) +
             " was acknowledged before the read began");
  }
}

void SafetyChecker::ObserveWriteAcked(uint64_t write) { acked_.push_back(write); }

void SafetyChecker::ObserveFollowerAppend(uint64_t node, uint64_t commit_before,
                                          uint64_t commit_after, uint64_t leader_commit,
                                          uint64_t last_matched) {
  const uint64_t allowed = std::max(commit_before, std::min(leader_commit, last_matched));
  if (commit_after > allowed) {
    Fail("FollowerCommitWithinMatch",
         "node " + std::to_string(node) + " moved its commit index to " +
             std::to_string(commit_after) + " on an AppendEntries that matched up to " +
             std::to_string(last_matched) + " (leader's commit " + std::to_string(leader_commit) +
             ")");
  }
}

void SafetyChecker::ObserveConfigurationAppended(uint64_t leader, uint64_t term,
                                                 uint64_t term_at_commit,
                                                 bool earlier_change_uncommitted) {
  if (term_at_commit != term) {
    Fail("SafeConfigurationChange",
         "leader " + std::to_string(leader) + " of term " + std::to_string(term) +
             " appended a configuration entry before an entry of its term committed");
  } else if (earlier_change_uncommitted) {
    Fail("SafeConfigurationChange", "leader " + std::to_string(leader) + " of term " +
                                        std::to_string(term) +
                                        " appended a configuration entry while another was "
                                        "uncommitted");
  }
}

namespace {

std::string Ids(const google::protobuf::RepeatedField<uint64_t>& ids) {
  std::vector<uint64_t> sorted(ids.begin(), ids.end());
  std::sort(sorted.begin(), sorted.end());
  std::string out = "{";
  for (uint64_t id : sorted) out += (out.size() > 1 ? "," : "") + std::to_string(id);
  return out + "}";
}

std::string Describe(const raftpb::ConfState& cs) {
  return "voters " + Ids(cs.voters()) + " learners " + Ids(cs.learners());
}

}  // namespace

void SafetyChecker::ObserveConfiguration(uint64_t node, const raftpb::ConfState& in_force,
                                         const raftpb::ConfState& base,
                                         const std::vector<raftpb::Entry>& entries) {
  raftpb::ConfState from_log = base;
  uint64_t last_change = 0;
  for (const raftpb::Entry& e : entries) {
    if (e.type() != raftpb::ENTRY_CONF_CHANGE) continue;
    raftpb::ConfChange cc;
    raftpb::ConfState next;
    // An entry that does not apply leaves the configuration as it was (as on every node).
    if (cc.ParseFromString(e.data()) && ApplyConfChange(from_log, cc, &next).ok()) from_log = next;
    last_change = e.index();
  }
  if (Describe(from_log) != Describe(in_force)) {
    Fail("ConfigurationFollowsLog",
         "node " + std::to_string(node) + " acts on " + Describe(in_force) + " but its log (" +
             (last_change ? "last configuration entry at " + std::to_string(last_change)
                          : std::string("no configuration entry after its snapshot")) +
             ") gives " + Describe(from_log));
  }
}

}  // namespace pharos::raft::testing
