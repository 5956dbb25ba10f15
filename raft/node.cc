#include "raft/node.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "raft/quorum.h"

namespace pharos::raft {
namespace {

using raftpb::Entry;
using raftpb::Message;
using raftpb::MessageType;

// Entries handed to the application per Ready, so a long backlog is applied in bounded batches.
constexpr uint64_t kMaxCommittedBytesPerReady = 16 << 20;

// Appends one acknowledgement may send to fill a follower's window. A follower that just left
// probing has an empty window of 32 MiB; filled at once, its entries were read from the log and
// encoded in one step of the raft thread, with no heartbeat in between. The rest goes with the
// next acknowledgements, each of which opens the window further.
constexpr int kMaxAppendsPerAcknowledgement = 8;

bool HardStateEqual(const raftpb::HardState& a, const raftpb::HardState& b) {
  return a.term() == b.term() && a.vote() == b.vote() && a.commit() == b.commit() &&
         a.removed() == b.removed();
}

// Messages whose sending depends on nothing being durable (Ready::messages). Everything else
// waits for the Ready to be persisted: a vote must survive a crash before anyone hears of it,
// and an acknowledgement of entries must not outrun their fsync.
bool MaySendBeforePersist(MessageType t) {
  switch (t) {
    case raftpb::MSG_APP:
    case raftpb::MSG_HEARTBEAT:
    case raftpb::MSG_HEARTBEAT_RESP:
    case raftpb::MSG_SNAP:
    case raftpb::MSG_TIMEOUT_NOW:
    case raftpb::MSG_READ_INDEX:
    case raftpb::MSG_READ_INDEX_RESP:
    case raftpb::MSG_TRANSFER_LEADER:
    case raftpb::MSG_PROP:
    case raftpb::MSG_PRE_VOTE:
    case raftpb::MSG_PRE_VOTE_RESP:
    case raftpb::MSG_REMOVED:  // says what a quorum committed, whatever this node has written
      return true;
    default:
      return false;
  }
}

// Whose `from` is not the member that sent it: made by this node's own driver (MSG_UNREACHABLE
// and MSG_SNAP_STATUS name a peer), or a transfer request, whose `from` names its target.
bool FromIsNotTheSender(MessageType t) {
  return t == raftpb::MSG_HUP || t == raftpb::MSG_BEAT || t == raftpb::MSG_UNREACHABLE ||
         t == raftpb::MSG_SNAP_STATUS || t == raftpb::MSG_CHECK_QUORUM ||
         t == raftpb::MSG_TRANSFER_LEADER;
}

MessageType VoteResponseType(MessageType t) {
  return t == raftpb::MSG_VOTE ? raftpb::MSG_VOTE_RESP : raftpb::MSG_PRE_VOTE_RESP;
}

}  // namespace

const char* RoleName(Role r) {
  switch (r) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "?";
}

Result<std::unique_ptr<Node>> Node::Create(const RaftConfig& config, const Storage* storage) {
  if (Status s = config.Validate(); !s.ok()) return s;
  auto initial = storage->GetInitialState();
  if (!initial.ok()) return initial.status();
  std::unique_ptr<Node> node(new Node(config, storage));

  node->membership_.Reset(storage->FirstIndex() - 1, initial->conf_state);
  for (uint64_t lo = storage->FirstIndex(), last = storage->LastIndex(); lo <= last;) {
    auto page = storage->Entries(lo, last + 1, 8 << 20);
    if (!page.ok()) return page.status();
    node->membership_.OnAppend(*page);
    lo += page->size();
  }
  const raftpb::HardState& hs = initial->hard_state;
  if (hs.commit() > storage->LastIndex()) {
    return Status::Corruption("hard state commit " + std::to_string(hs.commit()) +
                              " is beyond the last log index " +
                              std::to_string(storage->LastIndex()));
  }
  node->term_ = hs.term();
  node->vote_ = hs.vote();
  node->log_.CommitTo(hs.commit());
  if (config.applied > 0) {
    if (config.applied > storage->LastIndex()) {
      return Status::Corruption("applied index " + std::to_string(config.applied) +
                                " is beyond the last log index " +
                                std::to_string(storage->LastIndex()));
    }
    // The durable commit index may be behind what was applied: committed entries are applied in
    // parallel with the write of the hard state that records their commit (ready.h, rule 4), and
    // an advance of the commit index alone need not be written at all (rule 1). Only committed
    // entries are ever applied, and this log holds them: they are committed.
    if (config.applied > node->log_.committed()) node->log_.CommitTo(config.applied);
    if (config.applied > node->log_.applied()) node->log_.AppliedTo(config.applied);
  }
  // Only a committed removal is final: an uncommitted one may still be truncated away, and this
  // member must then be able to serve again. The applied index counts: a removed member hears of
  // its removal's commit last, and an advance of the commit index alone is not written.
  if (hs.removed() || WasRemoved(node->membership_.At(node->log_.committed()), config.id)) {
    return Status::FailedPrecondition("member " + std::to_string(config.id) +
                                      " was removed from the cluster; its data cannot be reused");
  }
  node->persisted_hard_state_ = hs;
  node->handed_hard_state_ = hs;
  node->BecomeFollower(node->term_, 0);
  node->prev_soft_state_ = SoftState{0, Role::kFollower};
  return node;
}

Node::Node(const RaftConfig& config, const Storage* storage)
    : config_(config),
      storage_(storage),
      log_(storage, kMaxCommittedBytesPerReady),
      rng_(config.seed * 0x9E3779B97F4A7C15ULL + config.id) {}

bool Node::Promotable() const { return IsVoter(membership_.current(), config_.id); }

bool Node::CommittedEntryInCurrentTerm() const {
  return log_.Term(log_.committed()).value_or(0) == term_;
}

void Node::ResetElectionTimer() {
  election_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
}

void Node::ResetRandomizedElectionTimeout() {
  const uint64_t span = config_.election_tick_max - config_.election_tick_min;
  randomized_election_timeout_ = config_.election_tick_min + static_cast<int>(rng_() % span);
}

void Node::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = 0;
  }
  lead_ = 0;
  ResetElectionTimer();
  heartbeat_elapsed_ = 0;
  commit_broadcast_pending_ = false;
  AbortLeaderTransfer();
  votes_.clear();
  read_only_.Reset();
  pending_read_index_msgs_.clear();
  ResetProgress();
}

void Node::ResetProgress() {
  progress_.clear();
  SyncProgressWithMembership();
}

void Node::SyncProgressWithMembership() {
  const raftpb::ConfState& cs = membership_.current();
  // A member whose removal has not committed yet still gets the log (it does not count toward
  // any quorum): that is how it learns it was removed.
  const raftpb::ConfState& committed_cs = membership_.At(log_.committed());
  auto tracked = [&](uint64_t id) {
    return IsVoter(cs, id) || IsLearner(cs, id) || IsVoter(committed_cs, id) ||
           IsLearner(committed_cs, id);
  };
  auto track = [&](uint64_t id, bool learner) {
    auto it = progress_.find(id);
    if (it == progress_.end()) {
      it = progress_
               .emplace(id, Progress(log_.LastIndex() + 1, config_.max_inflight_msgs,
                                     config_.max_inflight_bytes, learner))
               .first;
      if (id == config_.id) {
        it->second.match = log_.StableLastIndex();
        it->second.BecomeReplicate();
      }
    }
    it->second.is_learner = learner;
  };
  for (uint64_t id : cs.voters()) track(id, false);
  for (uint64_t id : cs.learners()) track(id, true);
  for (const auto* ids : {&committed_cs.voters(), &committed_cs.learners()}) {
    for (uint64_t id : *ids) {
      if (!IsVoter(cs, id) && !IsLearner(cs, id)) track(id, true);
    }
  }
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (!tracked(it->first)) {
      if (it->first == lead_transferee_) AbortLeaderTransfer();
      it = progress_.erase(it);
    } else {
      ++it;
    }
  }
}

void Node::BecomeFollower(uint64_t term, uint64_t lead) {
  Reset(term);
  role_ = Role::kFollower;
  lead_ = lead;
}

void Node::BecomePreCandidate() {
  // A pre-candidate keeps its term and vote: it only asks whether it could win.
  role_ = Role::kPreCandidate;
  votes_.clear();
  lead_ = 0;
}

void Node::BecomeCandidate() {
  Reset(term_ + 1);
  vote_ = config_.id;
  role_ = Role::kCandidate;
}

void Node::BecomeLeader() {
  Reset(term_);
  lead_ = config_.id;
  role_ = Role::kLeader;
  // The no-op lets this leader commit (and so learn the commit index of) earlier terms' entries,
  // which it may not do by counting replicas (Raft §5.4.2, §8).
  AppendEntries({Entry()});
}

void Node::Tick() {
  if (removed_) return;
  if (role_ == Role::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Node::TickElection() {
  ++election_elapsed_;
  if (election_elapsed_ < randomized_election_timeout_) return;
  if (Promotable()) {
    ResetElectionTimer();
    Hup(CampaignType::kElection);
  } else if (OwnRemovalPending()) {
    ResetElectionTimer();
    AskWhetherRemoved();
  }
}

bool Node::OwnRemovalPending() const {
  const raftpb::ConfState& latest = membership_.current();
  const raftpb::ConfState& committed = membership_.At(log_.committed());
  return !IsVoter(latest, config_.id) && !IsLearner(latest, config_.id) &&
         (IsVoter(committed, config_.id) || IsLearner(committed, config_.id));
}

void Node::AskWhetherRemoved() {
  // This member holds its own removal but not its commit, and has heard from no leader for an
  // election timeout: cut off, most likely, while the removal committed, after which nobody
  // sends it anything. Unable to campaign, it would never speak again, and so never be told. It
  // speaks: a heartbeat acknowledgement to every member it knows. A member whose committed
  // configuration has removed it answers MSG_REMOVED; a leader that has not committed the removal
  // takes it as an acknowledgement and sends what it lacks; anyone else ignores it. Its term is
  // no higher than the cluster's (it took the removal from a leader, and has not campaigned since).
  const raftpb::ConfState& committed = membership_.At(log_.committed());
  for (const auto* ids : {&committed.voters(), &committed.learners()}) {
    for (uint64_t id : *ids) {
      if (id == config_.id) continue;
      Message ask;
      ask.set_type(raftpb::MSG_HEARTBEAT_RESP);
      ask.set_to(id);
      Send(std::move(ask));
    }
  }
}

void Node::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_tick_min) {
    election_elapsed_ = 0;
    if (config_.check_quorum && !QuorumActive()) {
      BecomeFollower(term_, 0);
      return;
    }
    // A transfer that has not finished within an election timeout has failed.
    AbortLeaderTransfer();
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    BcastHeartbeat(HeartbeatKind::kPeriodic);
  }
}

bool Node::QuorumActive() {
  size_t active = 0;
  const auto voters = membership_.Voters();
  for (uint64_t id : voters) {
    auto it = progress_.find(id);
    if (id == config_.id || (it != progress_.end() && it->second.recent_active)) ++active;
  }
  for (auto& [id, pr] : progress_) {
    if (id != config_.id) pr.recent_active = false;
  }
  return active >= QuorumSize(voters.size());
}

void Node::Hup(CampaignType type) {
  if (role_ == Role::kLeader || !Promotable()) return;
  if (type == CampaignType::kElection && config_.pre_vote) type = CampaignType::kPreElection;
  StartCampaign(type);
}

Status Node::Campaign() {
  if (role_ == Role::kLeader) return Status::FailedPrecondition("already the leader");
  if (!Promotable()) return Status::FailedPrecondition("not a voter");
  Hup(CampaignType::kElection);
  return Status::Ok();
}

void Node::StartCampaign(CampaignType type) {
  MessageType vote_msg;
  uint64_t vote_term;
  if (type == CampaignType::kPreElection) {
    BecomePreCandidate();
    vote_msg = raftpb::MSG_PRE_VOTE;
    // Ask for votes as if at the next term, without moving to it (thesis §9.6).
    vote_term = term_ + 1;
  } else {
    BecomeCandidate();
    vote_msg = raftpb::MSG_VOTE;
    vote_term = term_;
  }
  votes_[config_.id] = true;
  const auto voters = membership_.Voters();
  if (TallyVotes(voters, votes_) == VoteResult::kWon) {
    if (type == CampaignType::kPreElection) {
      StartCampaign(CampaignType::kElection);
    } else {
      BecomeLeader();
      BcastAppend();
    }
    return;
  }
  for (uint64_t id : voters) {
    if (id == config_.id) continue;
    Message m;
    m.set_type(vote_msg);
    m.set_to(id);
    m.set_term(vote_term);
    m.set_index(log_.LastIndex());
    m.set_log_term(log_.LastTerm());
    m.set_transfer(type == CampaignType::kTransfer);
    Send(std::move(m));
  }
}

Status Node::Step(const Message& m) {
  const MessageType type = m.type();
  if (removed_) return Status::Ok();
  if (m.from() != 0 && m.from() != config_.id && !FromIsNotTheSender(type) &&
      WasRemoved(membership_.At(log_.committed()), m.from())) {
    // A member whose removal committed is none: nothing it sends counts (its campaigns would
    // otherwise raise every term), and it is told, since a member cut off while its removal
    // committed never hears of it otherwise and campaigns for good (etcd answers such a peer
    // the same way). A committed removal is final, and ids are never reused: the answer is safe
    // to believe whatever our term.
    if (type != raftpb::MSG_REMOVED) {
      Message told;
      told.set_type(raftpb::MSG_REMOVED);
      told.set_to(m.from());
      Send(std::move(told));
    }
    return Status::Ok();
  }
  if (type == raftpb::MSG_REMOVED) {
    // Only for this member: a removed member's address may since serve another (a new id), and
    // an answer to the old one still on its way must not end the new one.
    if (m.to() != config_.id) return Status::Ok();
    removed_ = true;
    if (role_ == Role::kLeader) BecomeFollower(term_, 0);
    return Status::Ok();
  }
  if (m.term() == 0) {
    // Local message or forwarded proposal/read: no term to reconcile.
  } else if (m.term() > term_) {
    if (type == raftpb::MSG_VOTE || type == raftpb::MSG_PRE_VOTE) {
      // The vote guard (thesis §4.2.3): a node that heard from a live leader within the minimum
      // election timeout ignores campaigns, so a node that was partitioned away cannot depose a
      // healthy leader. One tick of slack: nodes tick out of phase, and a survivor whose tick
      // lags must not refuse the first candidate after a real leader failure. Not for the leader
      // itself: it is the live leader (CheckQuorum steps it down when it is not), and with the
      // slack it granted campaigns in the last tick of every check-quorum round.
      const bool in_lease = config_.check_quorum &&
                            (role_ == Role::kLeader ||
                             (lead_ != 0 && election_elapsed_ < config_.election_tick_min - 1));
      if (in_lease && !m.transfer()) return Status::Ok();
    }
    if (type == raftpb::MSG_PRE_VOTE) {
      // A pre-vote never changes our term.
    } else if (type == raftpb::MSG_PRE_VOTE_RESP && !m.reject()) {
      // A granted pre-vote carries the term we asked for; we move to it only if we win.
    } else if (type == raftpb::MSG_APP || type == raftpb::MSG_HEARTBEAT ||
               type == raftpb::MSG_SNAP) {
      BecomeFollower(m.term(), m.from());
    } else {
      BecomeFollower(m.term(), 0);
    }
  } else if (m.term() < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (type == raftpb::MSG_APP || type == raftpb::MSG_HEARTBEAT)) {
      // A stale leader that cannot win elections (pre-vote) or hear a quorum (check quorum)
      // might never learn of the newer term; tell it.
      Message resp;
      resp.set_type(raftpb::MSG_APP_RESP);
      resp.set_to(m.from());
      Send(std::move(resp));
    } else if (type == raftpb::MSG_PRE_VOTE) {
      Message resp;
      resp.set_type(raftpb::MSG_PRE_VOTE_RESP);
      resp.set_to(m.from());
      resp.set_term(term_);
      resp.set_reject(true);
      Send(std::move(resp));
    }
    return Status::Ok();
  }

  switch (type) {
    case raftpb::MSG_HUP:
      Hup(CampaignType::kElection);
      return Status::Ok();
    case raftpb::MSG_VOTE:
    case raftpb::MSG_PRE_VOTE:
      HandleVoteRequest(m);
      return Status::Ok();
    default:
      break;
  }
  switch (role_) {
    case Role::kLeader:
      StepLeader(m);
      break;
    case Role::kCandidate:
    case Role::kPreCandidate:
      StepCandidate(m);
      break;
    case Role::kFollower:
      StepFollower(m);
      break;
  }
  return Status::Ok();
}

void Node::HandleVoteRequest(const Message& m) {
  const bool can_vote = vote_ == m.from() || (vote_ == 0 && lead_ == 0) ||
                        (m.type() == raftpb::MSG_PRE_VOTE && m.term() > term_);
  Message resp;
  resp.set_type(VoteResponseType(m.type()));
  resp.set_to(m.from());
  // Raft §5.4.1: grant only to a candidate whose log is at least as up to date as ours.
  if (can_vote && log_.IsUpToDate(m.index(), m.log_term())) {
    resp.set_term(m.term());
    if (m.type() == raftpb::MSG_VOTE) {
      ResetElectionTimer();
      vote_ = m.from();
    }
  } else {
    resp.set_term(term_);
    resp.set_reject(true);
  }
  Send(std::move(resp));
}

void Node::StepFollower(const Message& m) {
  switch (m.type()) {
    case raftpb::MSG_APP:
      ResetElectionTimer();
      lead_ = m.from();
      HandleAppendEntries(m);
      break;
    case raftpb::MSG_HEARTBEAT:
      ResetElectionTimer();
      lead_ = m.from();
      HandleHeartbeat(m);
      break;
    case raftpb::MSG_SNAP:
      ResetElectionTimer();
      lead_ = m.from();
      HandleSnapshot(m);
      break;
    case raftpb::MSG_TRANSFER_LEADER:
    case raftpb::MSG_READ_INDEX:
      // A member whose idea of the leader is stale sent it here. Passed on with its sender kept
      // (so not through Send, which stamps ours, as TransferLeader does): the leader answers a
      // read to the member that asked, and a transfer's sender is its target.
      if (lead_ != 0) {
        Message fwd = m;
        fwd.set_to(lead_);
        msgs_now_.push_back(std::move(fwd));
      }
      break;
    case raftpb::MSG_TIMEOUT_NOW:
      // The leader chose us: campaign at once, skipping pre-vote, past the vote guard.
      Hup(CampaignType::kTransfer);
      break;
    case raftpb::MSG_READ_INDEX_RESP:
      read_states_.push_back({m.index(), m.context()});
      break;
    default:
      break;
  }
}

void Node::StepCandidate(const Message& m) {
  const MessageType my_resp =
      role_ == Role::kPreCandidate ? raftpb::MSG_PRE_VOTE_RESP : raftpb::MSG_VOTE_RESP;
  switch (m.type()) {
    case raftpb::MSG_APP:
      BecomeFollower(m.term(), m.from());
      HandleAppendEntries(m);
      return;
    case raftpb::MSG_HEARTBEAT:
      BecomeFollower(m.term(), m.from());
      HandleHeartbeat(m);
      return;
    case raftpb::MSG_SNAP:
      BecomeFollower(m.term(), m.from());
      HandleSnapshot(m);
      return;
    default:
      break;
  }
  if (m.type() != my_resp) return;
  votes_.emplace(m.from(), !m.reject());
  switch (TallyVotes(membership_.Voters(), votes_)) {
    case VoteResult::kWon:
      if (role_ == Role::kPreCandidate) {
        StartCampaign(CampaignType::kElection);
      } else {
        BecomeLeader();
        BcastAppend();
      }
      break;
    case VoteResult::kLost:
      BecomeFollower(term_, 0);
      break;
    case VoteResult::kPending:
      break;
  }
}

void Node::StepLeader(const Message& m) {
  switch (m.type()) {
    case raftpb::MSG_BEAT:
      BcastHeartbeat(HeartbeatKind::kPeriodic);
      return;
    case raftpb::MSG_READ_INDEX:
      HandleReadIndex(m);
      return;
    case raftpb::MSG_TRANSFER_LEADER:
      HandleTransferLeader(m.from());
      return;
    case raftpb::MSG_PROP: {
      // Forwarded by a follower. Only normal entries: configuration changes are checked and
      // proposed by the leader itself.
      if (lead_transferee_ != 0 || !IsVoter(membership_.current(), config_.id)) return;
      std::vector<Entry> entries;
      for (const Entry& e : m.entries()) {
        Entry copy;
        copy.set_data(e.data());
        entries.push_back(std::move(copy));
      }
      if (entries.empty()) return;
      AppendEntries(std::move(entries));
      BcastAppend();
      return;
    }
    default:
      break;
  }
  auto it = progress_.find(m.from());
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  switch (m.type()) {
    case raftpb::MSG_APP_RESP:
      HandleAppendResponse(m, pr);
      break;
    case raftpb::MSG_HEARTBEAT_RESP:
      HandleHeartbeatResponse(m, pr);
      break;
    case raftpb::MSG_UNREACHABLE:
      if (pr.state == Progress::State::kReplicate) pr.BecomeProbe();
      break;
    case raftpb::MSG_SNAP_STATUS:
      if (pr.state != Progress::State::kSnapshot) break;
      if (m.reject()) pr.pending_snapshot = 0;
      pr.BecomeProbe();
      // Wait for the next heartbeat response before probing again.
      pr.probe_sent = true;
      break;
    default:
      break;
  }
}

void Node::HandleAppendEntries(const Message& m) {
  Message resp;
  resp.set_type(raftpb::MSG_APP_RESP);
  resp.set_to(m.from());
  if (m.index() < log_.committed()) {
    resp.set_index(log_.committed());
    Send(std::move(resp));
    return;
  }
  std::vector<Entry> entries(m.entries().begin(), m.entries().end());
  uint64_t first_written = 0;
  if (auto last_new =
          log_.MaybeAppend(m.index(), m.log_term(), m.commit(), entries, &first_written)) {
    if (first_written != 0) {
      membership_.OnAppend(
          std::vector<Entry>(entries.begin() + (first_written - m.index() - 1), entries.end()));
      SyncProgressWithMembership();
    }
    resp.set_index(*last_new);
  } else {
    auto [hint_index, hint_term] =
        log_.FindConflictByTerm(std::min(m.index(), log_.LastIndex()), m.log_term());
    resp.set_index(m.index());
    resp.set_reject(true);
    resp.set_reject_hint(hint_index);
    resp.set_hint_term(hint_term);
  }
  Send(std::move(resp));
}

void Node::HandleHeartbeat(const Message& m) {
  // The leader sends min(its commit, what it knows we match), so this never commits a stale
  // suffix of ours.
  log_.CommitTo(std::min(m.commit(), log_.LastIndex()));
  Message resp;
  resp.set_type(raftpb::MSG_HEARTBEAT_RESP);
  resp.set_to(m.from());
  resp.set_context(m.context());
  resp.set_log_write_pending(!log_.UnstableEntries().empty() ||
                             log_.UnstableSnapshot().has_value());
  Send(std::move(resp));
}

void Node::HandleSnapshot(const Message& m) {
  Message resp;
  resp.set_type(raftpb::MSG_APP_RESP);
  resp.set_to(m.from());
  resp.set_index(Restore(m.snapshot()) ? log_.LastIndex() : log_.committed());
  Send(std::move(resp));
}

bool Node::Restore(const raftpb::Snapshot& s) {
  const uint64_t index = s.metadata().index();
  if (index <= log_.committed()) return false;
  if (log_.MatchTerm(index, s.metadata().term())) {
    // We already hold the snapshot's last entry: just learn that it is committed.
    log_.CommitTo(index);
    return false;
  }
  log_.Restore(s);
  membership_.Reset(index, s.metadata().conf_state());
  SyncProgressWithMembership();
  return true;
}

void Node::HandleAppendResponse(const Message& m, Progress& pr) {
  pr.recent_active = true;
  if (m.reject()) {
    uint64_t next_probe = m.reject_hint();
    if (m.hint_term() > 0) {
      next_probe = log_.FindConflictByTerm(m.reject_hint(), m.hint_term()).first;
    }
    if (pr.MaybeDecrTo(m.index(), next_probe)) {
      if (pr.state == Progress::State::kReplicate) pr.BecomeProbe();
      SendAppend(m.from(), true);
    }
    return;
  }
  const bool was_paused = pr.IsPaused();
  // An answer at the index already matched proves a probed follower's log as well as a higher
  // one: without it a caught-up follower would stay probing, one append at a time, until the
  // next write.
  const bool confirms_probe = pr.state == Progress::State::kProbe && m.index() == pr.match;
  if (!pr.MaybeUpdate(m.index()) && !confirms_probe) return;
  switch (pr.state) {
    case Progress::State::kProbe:
      pr.BecomeReplicate();
      break;
    case Progress::State::kSnapshot:
      if (pr.match >= pr.pending_snapshot) {
        pr.BecomeProbe();
        pr.BecomeReplicate();
      }
      break;
    case Progress::State::kReplicate:
      pr.inflights.FreeLE(m.index());
      break;
  }
  if (MaybeCommit()) {
    BcastCommit();
    // Deferred, the commit does not reach this follower now either; it was waiting for this
    // answer before sending more, so it hears from us at once all the same.
    if (was_paused && config_.defer_commit_broadcast) SendAppend(m.from(), true);
  } else if (was_paused) {
    SendAppend(m.from(), true);
  }
  // Fill the window: a follower catching up gets as many messages as it may have in flight, a
  // few per acknowledgement (kMaxAppendsPerAcknowledgement).
  for (int sent = 0; sent < kMaxAppendsPerAcknowledgement && role_ == Role::kLeader &&
                     progress_.count(m.from()) && SendAppend(m.from(), false);
       ++sent) {
  }
  if (m.from() == lead_transferee_ && pr.match == log_.LastIndex()) SendTimeoutNow(m.from());
}

void Node::HandleHeartbeatResponse(const Message& m, Progress& pr) {
  pr.recent_active = true;
  // At most one retry per heartbeat interval, as etcd's probe state intends: the read rounds'
  // heartbeats answer far more often than that (Progress::heartbeat_retry_armed).
  if (std::exchange(pr.heartbeat_retry_armed, false)) {
    pr.probe_sent = false;
    // A slot opened in case an acknowledgement was lost (etcd's rule), unless the follower says
    // its disk is behind: its acknowledgements are coming, and every slot opened meanwhile was
    // another message it held in memory, without bound, for as long as its disk stalled (this
    // core's followers answer heartbeats while they write).
    if (pr.state == Progress::State::kReplicate && pr.inflights.Full() && !m.log_write_pending()) {
      pr.inflights.FreeFirstOne();
    }
    // A follower probed while it holds every entry (reported unreachable when caught up) gets
    // an empty append, whose answer puts it back to replicating (etcd-io/raft #52).
    if (pr.match < log_.LastIndex() || pr.state == Progress::State::kProbe) {
      SendAppend(m.from(), true);
    }
  }
  if (m.context().empty()) return;
  const std::set<uint64_t>* acks = read_only_.RecvAck(m.from(), m.context());
  if (acks == nullptr) return;
  const auto voters = membership_.Voters();
  size_t granted = 0;
  for (uint64_t id : voters) granted += acks->count(id);
  if (granted < QuorumSize(voters.size())) return;
  ServeReads(read_only_.Release(m.context()));
}

void Node::ServeReads(std::vector<ReadIndexRequest> reads) {
  for (ReadIndexRequest& r : reads) {
    if (r.from == config_.id || r.from == 0) {
      read_states_.push_back({r.index, std::move(r.context)});
    } else {
      Message resp;
      resp.set_type(raftpb::MSG_READ_INDEX_RESP);
      resp.set_to(r.from);
      resp.set_index(r.index);
      resp.set_context(std::move(r.context));
      Send(std::move(resp));
    }
  }
}

void Node::HandleReadIndex(const Message& m) {
  const uint64_t from = m.from() == 0 ? config_.id : m.from();
  const auto voters = membership_.Voters();
  if (voters.size() == 1 && voters.front() == config_.id) {
    ReadIndexRequest r;
    r.context = m.context();
    r.index = log_.committed();
    r.from = from;
    ServeReads({std::move(r)});
    return;
  }
  // Until an entry of its own term commits, a new leader does not know the commit index
  // (thesis §6.4): hold the request until its no-op commits.
  if (!CommittedEntryInCurrentTerm()) {
    Message held = m;
    held.set_from(from);
    pending_read_index_msgs_.push_back(std::move(held));
    return;
  }
  // Serve at today's commit index once a quorum confirms, by heartbeat, that we still lead.
  read_only_.Add(m.context(), log_.committed(), from, config_.id);
  BcastHeartbeat(HeartbeatKind::kReadRound);
}

void Node::HandleTransferLeader(uint64_t transferee) {
  if (transferee == 0 || transferee == config_.id) return;
  if (!IsVoter(membership_.current(), transferee)) return;
  if (lead_transferee_ == transferee) return;
  lead_transferee_ = transferee;
  // The transfer must finish within an election timeout (TickHeartbeat aborts it).
  election_elapsed_ = 0;
  const Progress& pr = progress_.at(transferee);
  if (pr.match == log_.LastIndex()) {
    SendTimeoutNow(transferee);
  } else {
    SendAppend(transferee, true);
  }
}

void Node::SendTimeoutNow(uint64_t to) {
  Message m;
  m.set_type(raftpb::MSG_TIMEOUT_NOW);
  m.set_to(to);
  Send(std::move(m));
}

Status Node::Propose(std::string data) {
  std::vector<std::string> one;
  one.push_back(std::move(data));
  return ProposeBatch(std::move(one));
}

Status Node::ProposeBatch(std::vector<std::string> data) {
  if (role_ != Role::kLeader) {
    return Status(StatusCode::kNotLeader, "not the leader (leader: " + std::to_string(lead_) + ")");
  }
  if (lead_transferee_ != 0) return Status::Unavailable("leadership transfer in progress");
  if (!IsVoter(membership_.current(), config_.id)) {
    return Status::Unavailable("this leader is being removed from the cluster");
  }
  if (data.empty()) return Status::Ok();
  std::vector<Entry> entries(data.size());
  for (size_t i = 0; i < data.size(); ++i) entries[i].set_data(std::move(data[i]));
  AppendEntries(std::move(entries));
  BcastAppend();
  return Status::Ok();
}

Status Node::ProposeOrForward(std::string data) {
  if (role_ == Role::kLeader) return Propose(std::move(data));
  if (lead_ == 0) return Status::Unavailable("no leader to forward the proposal to");
  Message m;
  m.set_type(raftpb::MSG_PROP);
  m.set_to(lead_);
  m.add_entries()->set_data(std::move(data));
  Send(std::move(m));
  return Status::Ok();
}

Status Node::ProposeConfChange(const raftpb::ConfChange& cc) {
  if (role_ != Role::kLeader) {
    return Status(StatusCode::kNotLeader, "not the leader (leader: " + std::to_string(lead_) + ")");
  }
  if (lead_transferee_ != 0) return Status::Unavailable("leadership transfer in progress");
  // The single-server change bug (found after the thesis): a configuration entry appended
  // before this leader's term has committed an entry can overlap a change from an earlier term.
  if (!CommittedEntryInCurrentTerm()) {
    return Status::Unavailable("no entry of this leader's term has committed yet; retry");
  }
  if (membership_.LastConfigIndex() > log_.committed()) {
    return Status::FailedPrecondition("a configuration change is still in progress");
  }
  raftpb::ConfState next;
  if (Status s = ApplyConfChange(membership_.current(), cc, &next); !s.ok()) return s;
  if (cc.type() == raftpb::CONF_PROMOTE_LEARNER) {
    const Progress& pr = progress_.at(cc.node_id());
    if (pr.match + config_.promote_max_lag < log_.committed()) {
      return Status::FailedPrecondition("learner " + std::to_string(cc.node_id()) +
                                        " is behind (match " + std::to_string(pr.match) +
                                        ", commit " + std::to_string(log_.committed()) + ")");
    }
  }
  Entry e;
  e.set_type(raftpb::ENTRY_CONF_CHANGE);
  e.set_data(cc.SerializeAsString());
  AppendEntries({std::move(e)});
  BcastAppend();
  return Status::Ok();
}

void Node::ReadIndex(std::string context) {
  Message m;
  m.set_type(raftpb::MSG_READ_INDEX);
  m.set_context(std::move(context));
  if (role_ == Role::kLeader) {
    HandleReadIndex(m);
  } else if (lead_ != 0) {
    m.set_to(lead_);
    Send(std::move(m));
  }
}

Status Node::TransferLeader(uint64_t transferee) {
  if (role_ == Role::kLeader) {
    if (!IsVoter(membership_.current(), transferee) || transferee == config_.id) {
      return Status::InvalidArgument("member " + std::to_string(transferee) +
                                     " cannot take leadership");
    }
    HandleTransferLeader(transferee);
    return Status::Ok();
  }
  if (lead_ == 0) return Status::Unavailable("no leader to transfer from");
  Message m;
  m.set_type(raftpb::MSG_TRANSFER_LEADER);
  m.set_to(lead_);
  m.set_from(transferee);
  m.set_term(0);
  msgs_now_.push_back(std::move(m));  // from is the transferee, not us: bypass Send()
  return Status::Ok();
}

void Node::ReportUnreachable(uint64_t id) {
  Message m;
  m.set_type(raftpb::MSG_UNREACHABLE);
  m.set_from(id);
  (void)Step(m);
}

void Node::ReportSnapshot(uint64_t id, bool ok) {
  Message m;
  m.set_type(raftpb::MSG_SNAP_STATUS);
  m.set_from(id);
  m.set_reject(!ok);
  (void)Step(m);
}

void Node::AppendEntries(std::vector<Entry> entries) {
  uint64_t index = log_.LastIndex();
  for (Entry& e : entries) {
    e.set_term(term_);
    e.set_index(++index);
  }
  log_.Append(entries);
  membership_.OnAppend(entries);
  SyncProgressWithMembership();
  // Our own progress moves only when the entries are durable (Advance): thesis §10.2.1.
}

bool Node::MaybeCommit() {
  const uint64_t quorum_index = CommittedIndex(membership_.Voters(), [this](uint64_t id) {
    auto it = progress_.find(id);
    return it == progress_.end() ? 0 : it->second.match;
  });
  // Raft §5.4.2: only an entry of the current term is committed by counting replicas.
  if (!log_.MaybeCommit(quorum_index, term_)) return false;
  OnCommitAdvanced();
  return true;
}

void Node::OnCommitAdvanced() {
  if (progress_.size() > membership_.Voters().size() + membership_.current().learners_size()) {
    // A removal may have committed: tell the removed member (commit index included), then stop
    // replicating to it.
    BcastAppend();
    SyncProgressWithMembership();
  }
  if (!pending_read_index_msgs_.empty() && CommittedEntryInCurrentTerm()) {
    auto held = std::move(pending_read_index_msgs_);
    pending_read_index_msgs_.clear();
    for (const Message& m : held) HandleReadIndex(m);
  }
  // A leader removed from the configuration keeps leading until the removal commits, then
  // steps down (thesis §4.2.2).
  if (!IsVoter(membership_.current(), config_.id) &&
      log_.committed() >= membership_.LastConfigIndex()) {
    BcastAppend();  // let the others learn the commit before we go quiet
    BecomeFollower(term_, 0);
  }
}

bool Node::SendAppend(uint64_t to, bool send_if_empty) {
  if (to == config_.id) return false;
  auto it = progress_.find(to);
  if (it == progress_.end()) return false;
  Progress& pr = it->second;
  if (pr.IsPaused()) return false;

  const uint64_t prev = pr.next - 1;
  const auto prev_term = log_.Term(prev);
  auto entries = log_.Slice(pr.next, log_.LastIndex() + 1, config_.max_size_per_msg);
  if (!prev_term.has_value() || !entries.ok()) {
    // The follower needs entries we compacted: send a snapshot instead, but only to a follower
    // we heard from recently (a dead one would pin the transfer).
    if (!pr.recent_active) return false;
    auto snap = log_.Snapshot();
    if (!snap.ok() || snap->metadata().index() == 0) return false;
    Message m;
    m.set_type(raftpb::MSG_SNAP);
    m.set_to(to);
    const uint64_t snap_index = snap->metadata().index();
    *m.mutable_snapshot() = std::move(*snap);
    pr.BecomeSnapshot(snap_index);
    Send(std::move(m));
    return true;
  }
  if (entries->empty() && !send_if_empty) return false;

  Message m;
  m.set_type(raftpb::MSG_APP);
  m.set_to(to);
  m.set_index(prev);
  m.set_log_term(*prev_term);
  m.set_commit(log_.committed());
  uint64_t bytes = 0;
  for (Entry& e : *entries) bytes += e.ByteSizeLong();
  const uint64_t last = entries->empty() ? prev : entries->back().index();
  for (Entry& e : *entries) *m.add_entries() = std::move(e);
  pr.SentEntries(last, bytes);
  pr.commit_sent = log_.committed();
  if (commit_broadcast_pending_ && CommitReachedFollowers()) commit_broadcast_pending_ = false;
  Send(std::move(m));
  return true;
}

void Node::BcastAppend() {
  for (auto& [id, pr] : progress_) {
    if (id != config_.id) SendAppend(id, true);
  }
}

void Node::BcastCommit() {
  if (config_.defer_commit_broadcast) {
    commit_broadcast_pending_ = !CommitReachedFollowers();
  } else {
    BcastAppend();
  }
}

// A paused follower is left out: it gets the commit index with the message that unpauses it, or
// with a heartbeat, and waiting for it would keep a broadcast pending for as long as it is down.
bool Node::CommitReachedFollowers() const {
  for (const auto& [id, pr] : progress_) {
    if (id != config_.id && !pr.IsPaused() && pr.commit_sent < log_.committed()) return false;
  }
  return true;
}

void Node::SendDeferredCommit() {
  if (!commit_broadcast_pending_) return;
  commit_broadcast_pending_ = false;
  if (role_ != Role::kLeader) return;
  for (auto& [id, pr] : progress_) {
    if (id != config_.id && pr.commit_sent < log_.committed()) SendAppend(id, true);
  }
}

void Node::BcastHeartbeat(HeartbeatKind kind) {
  const std::string context = read_only_.LastPendingContext();
  for (auto& [id, pr] : progress_) {
    if (id == config_.id) continue;
    if (kind == HeartbeatKind::kPeriodic) pr.heartbeat_retry_armed = true;
    Message m;
    m.set_type(raftpb::MSG_HEARTBEAT);
    m.set_to(id);
    // Never more than the follower is known to match: its suffix beyond that may be stale.
    m.set_commit(std::min(pr.match, log_.committed()));
    m.set_context(context);
    Send(std::move(m));
  }
}

void Node::Send(Message m) {
  m.set_from(config_.id);
  const MessageType t = m.type();
  const bool carries_own_term = t != raftpb::MSG_VOTE && t != raftpb::MSG_PRE_VOTE &&
                                t != raftpb::MSG_VOTE_RESP && t != raftpb::MSG_PRE_VOTE_RESP &&
                                t != raftpb::MSG_PROP && t != raftpb::MSG_READ_INDEX;
  if (carries_own_term) m.set_term(term_);
  if (MaySendBeforePersist(t)) {
    msgs_now_.push_back(std::move(m));
  } else {
    msgs_after_persist_.push_back(std::move(m));
  }
}

const Progress* Node::progress(uint64_t id) const {
  if (role_ != Role::kLeader) return nullptr;
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

NodeStatus Node::status() const {
  NodeStatus s;
  s.id = config_.id;
  s.term = term_;
  s.vote = vote_;
  s.lead = lead_;
  s.role = role_;
  s.committed = log_.committed();
  s.applied = log_.applied();
  s.last_index = log_.LastIndex();
  s.is_learner = IsLearner(membership_.current(), config_.id);
  return s;
}

raftpb::HardState Node::CurrentHardState() const {
  raftpb::HardState hs;
  hs.set_term(term_);
  hs.set_vote(vote_);
  hs.set_commit(log_.committed());
  hs.set_removed(removed_ || WasRemoved(membership_.At(log_.committed()), config_.id));
  return hs;
}

bool Node::HasReady() const {
  if (ready_outstanding_) return false;
  if (SoftState{lead_, role_} != prev_soft_state_) return true;
  if (!HardStateEqual(CurrentHardState(), handed_hard_state_)) return true;
  return !log_.UnstableEntries().empty() || log_.UnstableSnapshot().has_value() ||
         log_.HasNextCommittedEntries() || !msgs_now_.empty() || !msgs_after_persist_.empty() ||
         !read_states_.empty();
}

std::vector<raftpb::Entry> Node::TakeCommittedEntries() {
  std::vector<raftpb::Entry> out = log_.NextCommittedEntries();
  if (!out.empty()) {
    log_.HandedOutTo(out.back().index());
    log_.AppliedTo(out.back().index());
  }
  return out;
}

std::vector<ReadState> Node::TakeReadStates() {
  std::vector<ReadState> out;
  out.swap(read_states_);
  return out;
}

std::vector<Message> Node::TakeSendableMessages() {
  std::vector<Message> out;
  if (term_ != persisted_hard_state_.term() || vote_ != persisted_hard_state_.vote()) {
    return out;  // our term or vote is not durable yet: everything waits for the Ready
  }
  out.swap(msgs_now_);
  return out;
}

Ready Node::GetReady() {
  if (ready_outstanding_) throw std::logic_error("raft: GetReady before Advance");
  Ready rd;
  const SoftState soft{lead_, role_};
  if (soft != prev_soft_state_) {
    rd.soft_state = soft;
    prev_soft_state_ = soft;
  }
  const raftpb::HardState hs = CurrentHardState();
  // Its own removal committed (as far as this node's log says): it is done, as when told.
  removed_ = hs.removed();
  in_flight_ = InFlight();
  if (!HardStateEqual(hs, handed_hard_state_)) {
    rd.hard_state = hs;
    in_flight_.hard_state = hs;
    handed_hard_state_ = hs;
  }
  rd.entries = log_.UnstableEntries();
  if (!rd.entries.empty()) {
    in_flight_.last_entry_index = rd.entries.back().index();
    in_flight_.last_entry_term = rd.entries.back().term();
  }
  if (log_.UnstableSnapshot()) {
    rd.snapshot = *log_.UnstableSnapshot();
    in_flight_.snapshot_index = rd.snapshot->metadata().index();
    in_flight_.applied_to = in_flight_.snapshot_index;
  }
  rd.committed_entries = log_.NextCommittedEntries();
  if (!rd.committed_entries.empty()) {
    in_flight_.applied_to = rd.committed_entries.back().index();
    log_.HandedOutTo(in_flight_.applied_to);
  }

  const bool term_or_vote_changed =
      term_ != persisted_hard_state_.term() || vote_ != persisted_hard_state_.vote();
  (term_or_vote_changed ? rd.messages_after_persist : rd.messages) = std::move(msgs_now_);
  msgs_now_.clear();
  rd.messages_after_persist.insert(rd.messages_after_persist.end(),
                                   std::make_move_iterator(msgs_after_persist_.begin()),
                                   std::make_move_iterator(msgs_after_persist_.end()));
  msgs_after_persist_.clear();
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  rd.must_sync = (rd.hard_state && (hs.term() != persisted_hard_state_.term() ||
                                    hs.vote() != persisted_hard_state_.vote() ||
                                    hs.removed() != persisted_hard_state_.removed())) ||
                 !rd.entries.empty() || rd.snapshot.has_value();
  ready_outstanding_ = true;
  return rd;
}

void Node::Advance() {
  if (!ready_outstanding_) return;
  ready_outstanding_ = false;
  if (in_flight_.hard_state) persisted_hard_state_ = *in_flight_.hard_state;
  if (in_flight_.snapshot_index != 0) log_.StableSnapTo(in_flight_.snapshot_index);
  if (in_flight_.last_entry_index != 0) {
    log_.StableTo(in_flight_.last_entry_index, in_flight_.last_entry_term);
  }
  if (in_flight_.applied_to != 0 && in_flight_.applied_to > log_.applied()) {
    log_.AppliedTo(in_flight_.applied_to);
  }
  if (role_ == Role::kLeader) {
    auto self = progress_.find(config_.id);
    if (self != progress_.end() && self->second.MaybeUpdate(log_.StableLastIndex()) &&
        MaybeCommit()) {
      BcastCommit();
    }
  }
}

}  // namespace pharos::raft
