#include "tests/raft/sim/simulation.h"

#include <algorithm>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "raft/membership.h"
#include "raft/quorum.h"
#include "raft/snapshot_stream.h"

namespace pharos::raft::sim {
namespace {

constexpr int64_t kMs = 1000;
constexpr int64_t kTickUs = 10 * kMs;
constexpr int64_t kCommitLingerUs = 200;  // pharosd's RaftDriverOptions::commit_linger_us
// 10 election timeouts at the default maximum of 300 ms.
constexpr int64_t kLeaderDeadlineUs = 10 * 300 * kMs;
constexpr int64_t kWriteDeadlineUs = kLeaderDeadlineUs + 2000 * kMs;
constexpr int64_t kQuietLengthUs = 2500 * kMs;

const char* TypeName(raftpb::MessageType t) {
  return raftpb::MessageType_Name(t).c_str() + 4;  // drop "MSG_"
}

std::string Snapshot(uint64_t index, uint64_t chain) {
  return std::to_string(index) + ":" + std::to_string(chain);
}

// Client writes carry their id after a prefix ("w17", "liveness-18"); no-ops carry nothing.
std::optional<uint64_t> WriteId(const std::string& data) {
  const size_t digits = data.find_first_of("0123456789");
  if (data.empty() || digits == std::string::npos) return std::nullopt;
  return std::stoull(data.substr(digits));
}

}  // namespace

uint64_t ChainHash(uint64_t chain, const raftpb::Entry& e) {
  return (chain ^ testing::HashEntry(e)) * 0x100000001B3ULL + e.index() * 31 + e.term();
}

Simulation::Simulation(SimOptions options) : options_(options), rng_(options.seed) {
  max_size_per_msg_ = Chance(0.5) ? 1 : 512;
  std::vector<uint64_t> voters;
  for (int i = 0; i < options_.nodes; ++i) voters.push_back(next_node_id_ + i);
  for (int i = 0; i < options_.nodes; ++i) {
    SimNode& n = nodes_[next_node_id_];
    n.id = next_node_id_++;
    n.storage = MemoryStorage::Bootstrap(voters);
    n.tick_phase = Uniform(0, kTickUs - 1);
  }
}

int64_t Simulation::Uniform(int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng_() % static_cast<uint64_t>(hi - lo + 1));
}

bool Simulation::Chance(double p) { return static_cast<double>(rng_() % 1000000) < p * 1000000.0; }

RaftConfig Simulation::ConfigFor(const SimNode& n) const {
  RaftConfig c;
  c.id = n.id;
  c.seed = options_.seed * 7919 + n.incarnation;
  c.applied = n.sm_index;
  // Small messages and windows, so pipelining, windows and byte limits are exercised. Half the
  // seeds send one entry per message: acknowledgements then cover a leader's log piece by piece,
  // and a new leader's earlier-term entries are acknowledged before its no-op.
  c.max_size_per_msg = max_size_per_msg_;
  c.max_inflight_msgs = 8;
  c.defer_commit_broadcast = options_.defer_commit_broadcast;
  return c;
}

void Simulation::TraceEvent(std::string text) {
  trace_.push_back({now_, std::move(text)});
  if (trace_.size() > options_.trace_lines) trace_.pop_front();
}

std::string Simulation::Describe(const raftpb::Message& m) const {
  std::ostringstream os;
  os << TypeName(m.type()) << " " << m.from() << "->" << m.to() << " term=" << m.term();
  switch (m.type()) {
    case raftpb::MSG_APP:
      os << " prev=" << m.index() << "@" << m.log_term() << " ents=" << m.entries_size()
         << " commit=" << m.commit();
      if (m.entries_size() > 0) {
        os << " [" << m.entries(0).index() << ".." << m.entries(m.entries_size() - 1).index()
           << "]";
      }
      break;
    case raftpb::MSG_APP_RESP:
      os << " index=" << m.index() << (m.reject() ? " REJECT hint=" : "")
         << (m.reject() ? std::to_string(m.reject_hint()) + "@" + std::to_string(m.hint_term())
                        : "");
      break;
    case raftpb::MSG_VOTE:
    case raftpb::MSG_PRE_VOTE:
      os << " last=" << m.index() << "@" << m.log_term() << (m.transfer() ? " transfer" : "");
      break;
    case raftpb::MSG_VOTE_RESP:
    case raftpb::MSG_PRE_VOTE_RESP:
      os << (m.reject() ? " reject" : " grant");
      break;
    case raftpb::MSG_HEARTBEAT:
      os << " commit=" << m.commit();
      break;
    case raftpb::MSG_SNAP:
      os << " snap=" << m.snapshot().metadata().index() << "@" << m.snapshot().metadata().term();
      break;
    case raftpb::MSG_READ_INDEX_RESP:
      os << " index=" << m.index();
      break;
    default:
      break;
  }
  return os.str();
}

void Simulation::Schedule(int64_t at, Event e) {
  queue_.emplace(std::make_pair(at, seq_++), std::move(e));
}

Simulation::SimNode* Simulation::NodeById(uint64_t id) {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

Simulation::SimNode* Simulation::Leader() {
  SimNode* best = nullptr;
  for (auto& [id, n] : nodes_) {
    if (!n.raft || n.raft->role() != Role::kLeader) continue;
    if (!best || n.raft->term() > best->raft->term()) best = &n;
  }
  return best;
}

std::vector<Simulation::SimNode*> Simulation::LiveMembers() {
  std::vector<SimNode*> out;
  for (auto& [id, n] : nodes_) {
    if (!n.removed) out.push_back(&n);
  }
  return out;
}

void Simulation::Fail(std::string check, std::string detail) {
  if (!result_.ok) return;
  result_.ok = false;
  result_.check = std::move(check);
  result_.detail = std::move(detail);
  stop_ = true;
}

SimResult Simulation::Run() {
  for (auto& [id, n] : nodes_) Restart(n);
  Schedule(Uniform(50, 300) * kMs, Event{EventKind::kNemesis});
  Schedule(Uniform(1, 20) * kMs, Event{EventKind::kClientWrite});
  Schedule(Uniform(1, 40) * kMs, Event{EventKind::kClientRead});
  chaos_until_ = Uniform(1000, 3000) * kMs;

  bool final_phase = false;
  while (!stop_ && !queue_.empty()) {
    auto node = queue_.extract(queue_.begin());
    now_ = node.key().first;
    try {
      Handle(node.mapped());
    } catch (const std::exception& ex) {
      Fail("CoreAssertion", std::string("the core threw: ") + ex.what());
    }
    ++result_.events;
    if (stop_) break;
    CheckAfterEvent();
    if (!final_phase && result_.events >= options_.steps) {
      // Heal everything; the run ends once the quiet phase shows liveness.
      final_phase = true;
      StartQuietPhase();
      chaos_until_ = INT64_MAX;
    }
    if (final_phase && quiet_ && liveness_write_acked_at_ &&
        now_ >= *liveness_write_acked_at_ + 500 * kMs) {
      break;
    }
  }
  if (result_.ok && !final_phase) Fail("Liveness", "event queue drained before the run ended");
  if (!result_.ok) {
    for (const TraceLine& t : trace_) {
      std::ostringstream os;
      os << "t=" << t.time / 1000 << "." << (t.time % 1000) / 100 << "ms " << t.text;
      result_.trace.push_back(os.str());
    }
  }
  result_.sim_time_us = now_;
  for (auto& [id, n] : nodes_) {
    if (n.raft) result_.max_term = std::max<int64_t>(result_.max_term, n.raft->term());
  }
  return result_;
}

void Simulation::Handle(Event& e) {
  switch (e.kind) {
    case EventKind::kDeliver:
      Deliver(e);
      return;
    case EventKind::kSnapChunk:
      DeliverChunk(e.node, e.incarnation);
      return;
    case EventKind::kTick: {
      SimNode* n = NodeById(e.node);
      if (!n || !n->raft || n->incarnation != e.incarnation) return;
      n->raft->Tick();
      Schedule(now_ + kTickUs, Event{EventKind::kTick, n->id, n->incarnation});
      Pump(*n);
      return;
    }
    case EventKind::kPersistDone: {
      SimNode* n = NodeById(e.node);
      if (!n || !n->raft || n->incarnation != e.incarnation) return;
      FinishPersist(*n);
      Pump(*n);
      return;
    }
    case EventKind::kCrash: {
      SimNode* n = NodeById(e.node);
      // Faults end with the chaos phase.
      if (!n || !n->raft || n->incarnation != e.incarnation || quiet_) return;
      TraceEvent("crash during fsync:");
      Crash(*n);
      Schedule(now_ + Uniform(1, 300) * kMs, Event{EventKind::kRestart, n->id, n->incarnation});
      return;
    }
    case EventKind::kRestart: {
      SimNode* n = NodeById(e.node);
      if (!n || n->raft || n->removed || n->incarnation != e.incarnation) return;
      if (held_out_.count(n->id)) return;  // it comes back with the others (Rejoin)
      Restart(*n);
      return;
    }
    case EventKind::kNemesis:
      Nemesis();
      Schedule(now_ + (churn_ ? Uniform(20, 120) : Uniform(50, 400)) * kMs,
               Event{EventKind::kNemesis});
      return;
    case EventKind::kClientWrite:
      ClientWrite();
      Schedule(now_ + Uniform(2, 30) * kMs, Event{EventKind::kClientWrite});
      return;
    case EventKind::kClientRead:
      ClientRead();
      Schedule(now_ + Uniform(5, 60) * kMs, Event{EventKind::kClientRead});
      return;
    case EventKind::kRejoin:
      if (quiet_) Rejoin();
      return;
    case EventKind::kConfChange:
      if (!quiet_) TryConfChange();
      return;
    case EventKind::kStop:
      if (SimNode* n = NodeById(e.node)) StopRemoved(*n);
      return;
    case EventKind::kCommitLinger: {
      SimNode* n = NodeById(e.node);
      if (!n || !n->raft || n->incarnation != e.incarnation) return;
      n->commit_lingering = false;
      n->raft->SendDeferredCommit();
      Pump(*n);
      return;
    }
  }
}

bool Simulation::LinkUp(uint64_t from, uint64_t to) const {
  return blocked_.count({from, to}) == 0 && held_out_.count(from) == 0 && held_out_.count(to) == 0;
}

void Simulation::Send(const raftpb::Message& m) {
  if (SimNode* from = NodeById(m.from())) {
    checker_.ObserveSend(m, from->storage->hard_state(), from->storage->LastIndex());
  }
  if (!LinkUp(m.from(), m.to())) return;
  if (loss_ > 0 && Chance(loss_)) return;
  const int copies = duplicate_ > 0 && Chance(duplicate_) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    int64_t delay = Uniform(100, delay_max_us_);
    // Now and then a message is held up long enough to arrive after later ones.
    if (faults_active_ && Chance(0.02)) delay += Uniform(20, 150) * kMs;
    Schedule(now_ + delay, Event{EventKind::kDeliver, m.to(), 0, m});
  }
}

void Simulation::SendAll(SimNode& from, std::vector<raftpb::Message>& msgs) {
  for (raftpb::Message& m : msgs) {
    if (m.type() == raftpb::MSG_SNAP) {
      ++result_.snapshots_sent;
      // The snapshot travels in chunks on a connection of its own; the sender learns the
      // outcome when the stream ends or breaks.
      SimNode* to = NodeById(m.to());
      const uint64_t id = next_stream_++;
      SnapStream& stream = streams_[id];
      stream.from = from.id;
      stream.from_incarnation = from.incarnation;
      stream.to = m.to();
      stream.to_incarnation = to ? to->incarnation : 0;
      stream.chunks = SplitSnapshot(m, 8);
      int64_t at = now_;
      for (size_t i = 0; i < stream.chunks.size(); ++i) {
        at += Uniform(200, 3000);
        Schedule(at, Event{EventKind::kSnapChunk, id, i});
      }
      continue;
    }
    Send(m);
  }
}

void Simulation::DeliverChunk(uint64_t stream_id, size_t index) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  SnapStream& stream = it->second;
  SimNode* to = NodeById(stream.to);
  SimNode* from = NodeById(stream.from);
  const bool up = to && to->raft && to->incarnation == stream.to_incarnation &&
                  LinkUp(stream.from, stream.to) && !Chance(loss_ / 4);
  std::optional<raftpb::Message> assembled;
  bool ok = up;
  if (up) {
    auto r = stream.assembler.Add(stream.chunks[index]);
    if (!r.ok()) {
      Fail("SimHarness", "snapshot stream: " + r.status().ToString());
      return;
    }
    assembled = std::move(*r);
  }
  if (ok && !assembled) return;  // more chunks to come
  if (assembled) {
    TraceEvent("snapshot stream " + std::to_string(stream.from) + "->" + std::to_string(stream.to) +
               " complete: " + Describe(*assembled));
    (void)to->raft->Step(*assembled);
    Pump(*to);
  } else {
    TraceEvent("snapshot stream " + std::to_string(stream.from) + "->" + std::to_string(stream.to) +
               " broken at chunk " + std::to_string(index));
  }
  if (from && from->raft && from->incarnation == stream.from_incarnation) {
    from->raft->ReportSnapshot(stream.to, ok);
    Pump(*from);
  }
  streams_.erase(it);
}

void Simulation::Deliver(Event& e) {
  SimNode* n = NodeById(e.node);
  if (!n || !n->raft) return;
  const raftpb::Message& m = e.msg;
  if (!LinkUp(m.from(), m.to())) return;
  TraceEvent(Describe(m));
  const uint64_t commit_before = n->raft->log().committed();
  (void)n->raft->Step(m);
  if (m.type() == raftpb::MSG_APP && n->raft->role() == Role::kFollower &&
      n->raft->term() == m.term()) {
    checker_.ObserveFollowerAppend(n->id, commit_before, n->raft->log().committed(), m.commit(),
                                   m.index() + m.entries_size());
  }
  Pump(*n);
}

void Simulation::Pump(SimNode& n) {
  PumpReady(n);
  // As pharosd's RaftDriver does: a commit index held back leaves after a linger.
  if (n.raft && !n.commit_lingering && n.raft->commit_broadcast_pending()) {
    n.commit_lingering = true;
    Schedule(now_ + kCommitLingerUs, Event{EventKind::kCommitLinger, n.id, n.incarnation});
  }
}

void Simulation::PumpReady(SimNode& n) {
  if (!n.raft) return;
  auto now_msgs = n.raft->TakeSendableMessages();
  SendAll(n, now_msgs);
  if (n.persisting) {
    // As pharosd does (ready.h, rule 4): entries committed while a write is in flight are
    // applied at once, so crashes land between an apply and the write of its commit index.
    ApplyCommitted(n, n.raft->TakeCommittedEntries());
    return;
  }
  if (!n.raft->HasReady()) return;
  n.ready = n.raft->GetReady();
  // A Ready that rewrites entries already handed out truncated the log: the configuration must
  // have followed (checked after the Ready's messages are out, as they were made with it).
  const bool truncated = n.ready.snapshot || (!n.ready.entries.empty() &&
                                              n.ready.entries.front().index() <= n.handed_last);
  if (n.ready.snapshot) n.handed_last = n.ready.snapshot->metadata().index();
  if (!n.ready.entries.empty()) n.handed_last = n.ready.entries.back().index();
  SendAll(n, n.ready.messages);
  if (truncated) CheckConfiguration(n);
  if (!n.ready.snapshot) {
    // Durable here already: applied in parallel with this Ready's write, as pharosd does.
    ApplyCommitted(n, n.ready.committed_entries);
    n.ready.committed_entries.clear();
    if (stop_ || !n.raft) return;
  }
  n.persisting = true;
  if (n.ready.must_sync || n.ready.hard_state) {
    // fsync takes time; a crash before it completes loses this Ready.
    const int64_t fsync = Chance(0.05) ? Uniform(5, 30) * kMs : Uniform(200, 3000);
    Schedule(now_ + fsync, Event{EventKind::kPersistDone, n.id, n.incarnation});
    // The worst moment to crash: with the write handed to the disk but not yet durable. A new
    // leader's first write (its no-op, already on its way to the followers) is the worst of all:
    // that is how leaders of successive terms leave conflicting entries at one index (Raft
    // paper, Figure 8).
    const bool leader = n.raft->role() == Role::kLeader;
    const bool first_write_of_term = leader && !n.ready.entries.empty() &&
                                     n.ready.entries.front().term() == n.raft->term() &&
                                     n.ready.entries.front().data().empty() &&
                                     n.ready.entries.front().type() == raftpb::ENTRY_NORMAL;
    const double crash_chance = first_write_of_term ? 0.15 : leader ? 0.01 : 0.002;
    if (faults_active_ && !quiet_ && Chance(crash_chance)) {
      Schedule(now_ + Uniform(0, fsync - 1), Event{EventKind::kCrash, n.id, n.incarnation});
    }
  } else {
    FinishPersist(n);
    Pump(n);
  }
}

void Simulation::FinishPersist(SimNode& n) {
  Ready rd = std::move(n.ready);
  n.ready = Ready();
  n.persisting = false;
  if (rd.snapshot) {
    if (Status s = n.storage->ApplySnapshot(*rd.snapshot); !s.ok()) {
      Fail("SimHarness", "node " + std::to_string(n.id) + " snapshot: " + s.ToString());
      return;
    }
  }
  if (!rd.entries.empty()) {
    const uint64_t first = rd.entries.front().index();
    std::vector<std::pair<uint64_t, uint64_t>> replaced;
    for (uint64_t i = std::max(first, n.storage->FirstIndex()); i <= n.storage->LastIndex(); ++i) {
      replaced.emplace_back(i, *n.storage->Term(i));
    }
    auto prev = n.storage->Term(first - 1);
    checker_.ObservePersist(n.id, rd.entries, prev.ok() ? *prev : 0, replaced);
    if (Status s = n.storage->Append(rd.entries); !s.ok()) {
      Fail("SimHarness", "node " + std::to_string(n.id) + " append: " + s.ToString());
      return;
    }
  }
  if (rd.hard_state) n.storage->SetHardState(*rd.hard_state);
  SendAll(n, rd.messages_after_persist);

  if (rd.snapshot) {
    const std::string& data = rd.snapshot->data();
    const size_t colon = data.find(':');
    n.sm_index = std::stoull(data.substr(0, colon));
    n.sm_chain = std::stoull(data.substr(colon + 1));
    n.sm_conf = rd.snapshot->metadata().conf_state();
    auto writes = snapshot_writes_.find(data);
    if (writes == snapshot_writes_.end()) {
      Fail("SimHarness", "node " + std::to_string(n.id) + " received an unknown snapshot " + data);
      return;
    }
    n.sm_writes = writes->second;
    TraceEvent("node " + std::to_string(n.id) + " installed snapshot " +
               std::to_string(n.sm_index));
    checker_.ObserveSnapshotRestore(n.id, n.sm_index, n.sm_chain);
  }
  for (const raftpb::Entry& e : rd.committed_entries) {
    if (e.index() <= n.sm_index) continue;
    Apply(n, e);
    if (stop_) return;
  }
  for (ReadState& rs : rd.read_states) {
    auto it = reads_.find(rs.context);
    if (it == reads_.end()) continue;
    if (it->second.node == n.id && it->second.incarnation == n.incarnation) {
      n.reads_waiting.emplace_back(rs, it->second);
    }
    reads_.erase(it);
  }
  AnswerReads(n);
  n.raft->Advance();
}

void Simulation::ApplyCommitted(SimNode& n, const std::vector<raftpb::Entry>& entries) {
  for (const raftpb::Entry& e : entries) {
    if (e.index() <= n.sm_index) continue;
    Apply(n, e);
    if (stop_) return;
  }
  AnswerReads(n);
}

void Simulation::AnswerReads(SimNode& n) {
  // A read is answered once the state machine has applied its read index; the answer is the
  // state machine's value then, which must hold every write acknowledged before the read began.
  for (auto it = n.reads_waiting.begin(); it != n.reads_waiting.end();) {
    if (it->first.index > n.sm_index) {
      ++it;
      continue;
    }
    const PendingRead& r = it->second;
    checker_.ObserveReadAnswered(n.id, r.acked_writes, [&n](uint64_t write) {
      return write < n.sm_writes.size() && n.sm_writes[write];
    });
    checker_.ObserveRead(n.id, it->first.index, r.acked_before);
    ++result_.reads_served;
    if (r.on_follower) ++result_.follower_reads_served;
    it = n.reads_waiting.erase(it);
  }
}

void Simulation::Apply(SimNode& n, const raftpb::Entry& e) {
  n.sm_chain = ChainHash(n.sm_chain, e);
  n.sm_index = e.index();
  checker_.ObserveApply(n.id, e.index(), e.term(), n.sm_chain);
  ResolveConfChanges(n, e);
  if (e.type() == raftpb::ENTRY_CONF_CHANGE) {
    raftpb::ConfChange cc;
    cc.ParseFromString(e.data());
    raftpb::ConfState next;
    if (ApplyConfChange(n.sm_conf, cc, &next).ok()) n.sm_conf = next;
    // An operator stops a removed member once its removal is applied somewhere.
    if (cc.type() == raftpb::CONF_REMOVE_NODE) {
      SimNode* gone = NodeById(cc.node_id());
      if (gone && !gone->removed && gone != &n) {
        // In the chaos phase the operator is slow: the removed member may still be restarted
        // (by a supervisor) and run for a while with a log that does not know of its removal.
        if (quiet_ || Chance(0.5)) {
          StopRemoved(*gone);
        } else {
          to_stop_.insert(gone->id);
          Schedule(now_ + Uniform(1, 1500) * kMs, Event{EventKind::kStop, gone->id});
        }
      } else if (gone == &n) {
        n.removed = true;  // stopped below, once this Ready is done
      }
    }
    return;
  }
  if (const std::optional<uint64_t> id = WriteId(e.data())) {
    if (n.sm_writes.size() <= *id) n.sm_writes.resize(*id + 1);
    n.sm_writes[*id] = true;
  }
  auto w = writes_.find(e.data());
  if (w != writes_.end() && w->second.node == n.id && w->second.incarnation == n.incarnation &&
      w->second.term == e.term()) {
    ++result_.writes_acked;
    checker_.ObserveWriteAcked(*WriteId(e.data()));
    max_acked_index_ = std::max(max_acked_index_, e.index());
    if (e.data() == liveness_write_ && !liveness_write_acked_at_) liveness_write_acked_at_ = now_;
    writes_.erase(w);
  }
}

void Simulation::ResolveConfChanges(const SimNode& n, const raftpb::Entry& e) {
  // The first node to apply a pending change's index learns whether it committed or was
  // truncated away (every committed index is applied somewhere before any snapshot covers it).
  for (auto it = conf_changes_.begin(); it != conf_changes_.end() && it->first <= e.index();) {
    if (it->first < e.index() || e.data() != it->second.data) {
      SimNode* orphan = it->second.joining ? NodeById(it->second.joining) : nullptr;
      if (orphan && !orphan->removed && !IsLearner(n.sm_conf, orphan->id) &&
          !IsVoter(n.sm_conf, orphan->id)) {
        TraceEvent("node " + std::to_string(orphan->id) + " never joined; stopped");
        Crash(*orphan);
        orphan->removed = true;
      }
    }
    it = conf_changes_.erase(it);
  }
}

void Simulation::StopRemoved(SimNode& gone) {
  to_stop_.erase(gone.id);
  if (gone.removed) return;
  TraceEvent("node " + std::to_string(gone.id) + " removed and stopped");
  Crash(gone);
  gone.removed = true;
}

void Simulation::Crash(SimNode& n) {
  if (!n.raft) return;
  TraceEvent("CRASH node " + std::to_string(n.id));
  ++result_.crashes;
  n.raft.reset();
  n.persisting = false;
  n.commit_lingering = false;  // its event belongs to the old incarnation
  n.ready = Ready();
  n.reads_waiting.clear();
  ++n.incarnation;
}

void Simulation::Restart(SimNode& n) {
  if (n.raft || n.removed) return;
  auto node = Node::Create(ConfigFor(n), n.storage.get());
  if (!node.ok() && node.status().code() == StatusCode::kFailedPrecondition &&
      node.status().message().find("was removed") != std::string::npos) {
    // Its log holds its own committed removal: refusing to start is the right answer.
    TraceEvent("node " + std::to_string(n.id) + " refuses to start: " + node.status().message());
    n.removed = true;
    return;
  }
  if (!node.ok()) {
    Fail("SimHarness",
         "node " + std::to_string(n.id) + " failed to restart: " + node.status().ToString());
    return;
  }
  n.raft = std::move(*node);
  n.handed_last = n.storage->LastIndex();
  n.seen_role = Role::kFollower;
  n.seen_commit = n.raft->log().committed();
  TraceEvent("START node " + std::to_string(n.id) + " term=" + std::to_string(n.raft->term()) +
             " last=" + std::to_string(n.raft->log().LastIndex()) +
             " applied=" + std::to_string(n.sm_index));
  const int64_t next_tick = now_ + ((n.tick_phase - now_) % kTickUs + kTickUs) % kTickUs + 1;
  Schedule(next_tick, Event{EventKind::kTick, n.id, n.incarnation});
}

void Simulation::Partition(const std::vector<std::vector<uint64_t>>& sides) {
  std::map<uint64_t, size_t> side_of;
  for (size_t s = 0; s < sides.size(); ++s) {
    for (uint64_t id : sides[s]) side_of[id] = s;
  }
  for (auto& [a, sa] : side_of) {
    for (auto& [b, sb] : side_of) {
      if (sa != sb) blocked_.insert({a, b});
    }
  }
  ++result_.partitions;
  // Arm the minority term bound: a side that cannot reach a quorum of voters cannot win a
  // pre-vote, so none of its members may pass the highest term anyone holds now, plus one (a
  // pre-vote won just before the cut).
  if (conf_change_pending()) return;
  // Conservative: members may hold different configurations; the bound applies only to a side
  // that lacks a quorum in every configuration any member holds.
  std::vector<const raftpb::ConfState*> configs;
  uint64_t max_term = 0;
  for (auto& [id, n] : nodes_) {
    if (n.raft) {
      configs.push_back(&n.raft->conf_state());
      max_term = std::max(max_term, n.raft->term());
    }
    max_term = std::max(max_term, n.storage->hard_state().term());
  }
  for (const auto& side : sides) {
    bool could_win = false;
    for (const raftpb::ConfState* cs : configs) {
      size_t voters = 0;
      for (uint64_t id : side) voters += IsVoter(*cs, id) ? 1 : 0;
      if (voters >= QuorumSize(cs->voters_size())) could_win = true;
    }
    if (could_win) continue;
    for (uint64_t id : side) term_bound_.emplace(id, max_term + 1);
  }
}

void Simulation::HealNetwork() {
  blocked_.clear();
  term_bound_.clear();
}

void Simulation::StartQuietPhase() {
  TraceEvent("HEAL all: quiet phase");
  HealNetwork();
  loss_ = 0;
  duplicate_ = 0;
  delay_max_us_ = 2000;
  faults_active_ = false;
  for (const std::set<uint64_t> stop = to_stop_; uint64_t id : stop) StopRemoved(*NodeById(id));
  HoldOutMinority();
  for (auto& [id, n] : nodes_) {
    if (!n.raft && !n.removed && !held_out_.count(id)) Restart(n);
  }
  quiet_ = true;
  churn_ = false;
  quiet_since_ = now_;
  settle_since_ = now_;
  liveness_write_acked_at_.reset();
  liveness_write_.clear();
  stable_leader_.reset();
}

void Simulation::HoldOutMinority() {
  held_out_.clear();
  // Which voters a minority is must be clear: not while a membership change is in flight.
  if (conf_change_pending() || !Chance(0.7)) return;
  const SimNode* newest = nullptr;
  for (auto& [id, n] : nodes_) {
    if (!newest || n.sm_index > newest->sm_index) newest = &n;
  }
  std::vector<uint64_t> voters(newest->sm_conf.voters().begin(), newest->sm_conf.voters().end());
  const int64_t most = (static_cast<int64_t>(voters.size()) - 1) / 2;
  if (most < 1) return;
  for (int64_t k = Uniform(1, most); k > 0 && !voters.empty(); --k) {
    const size_t pick = Uniform(0, voters.size() - 1);
    SimNode* n = NodeById(voters[pick]);
    voters.erase(voters.begin() + pick);
    if (!n || n->removed) continue;
    held_out_.insert(n->id);
    TraceEvent("HOLD OUT node " + std::to_string(n->id) + (n->raft ? " (cut off)" : " (down)") +
               " until a leader is stable");
  }
}

void Simulation::Rejoin() {
  if (held_out_.empty()) return;
  const std::set<uint64_t> back = std::move(held_out_);
  held_out_.clear();
  for (uint64_t id : back) {
    SimNode* n = NodeById(id);
    if (!n || n->removed) continue;
    TraceEvent("REJOIN node " + std::to_string(id) + (n->raft ? " (link healed)" : " (restart)"));
    if (stable_leader_) ++result_.rejoins_checked;
    Restart(*n);
  }
}

void Simulation::Nemesis() {
  if (quiet_) {
    if (now_ - quiet_since_ < kQuietLengthUs || !liveness_write_acked_at_) return;
    stable_leader_.reset();
    Rejoin();
    quiet_ = false;
    chaos_until_ = now_ + Uniform(1000, 3000) * kMs;
    // Some chaos phases churn leaders hard: frequent leader crashes over a lossy network leave
    // leaders of successive terms with conflicting uncommitted suffixes (the paper's Figure 8).
    churn_ = Chance(0.5);
    TraceEvent(churn_ ? "CHAOS phase begins (leader churn)" : "CHAOS phase begins");
  }
  if (now_ >= chaos_until_) {
    StartQuietPhase();
    return;
  }
  faults_active_ = true;
  std::vector<SimNode*> members = LiveMembers();
  SimNode* leader = Leader();
  if (churn_) {
    Churn(members, leader);
    return;
  }
  const int action = static_cast<int>(Uniform(0, 99));
  if (action < 14) {  // random split
    std::vector<std::vector<uint64_t>> sides(2);
    for (SimNode* n : members) sides[Chance(0.5)].push_back(n->id);
    HealNetwork();
    Partition(sides);
    TraceEvent("PARTITION random split");
  } else if (action < 26) {  // isolate the leader
    if (!leader) return;
    std::vector<std::vector<uint64_t>> sides(2);
    for (SimNode* n : members) sides[n == leader ? 0 : 1].push_back(n->id);
    HealNetwork();
    Partition(sides);
    TraceEvent("PARTITION isolate leader " + std::to_string(leader->id));
  } else if (action < 32) {  // one-way link
    SimNode* a = members[Uniform(0, members.size() - 1)];
    SimNode* b = members[Uniform(0, members.size() - 1)];
    if (a == b) return;
    blocked_.insert({a->id, b->id});
    TraceEvent("BLOCK one way " + std::to_string(a->id) + "->" + std::to_string(b->id));
  } else if (action < 42) {
    HealNetwork();
    TraceEvent("HEAL network");
  } else if (action < 58) {  // crash, the leader half of the time
    SimNode* victim = leader && Chance(0.5) ? leader : members[Uniform(0, members.size() - 1)];
    if (!victim->raft) return;
    Crash(*victim);
    Schedule(now_ + Uniform(5, 600) * kMs,
             Event{EventKind::kRestart, victim->id, victim->incarnation});
  } else if (action < 66) {  // lossy, slow, duplicating network
    loss_ = Uniform(0, 30) / 100.0;
    duplicate_ = Uniform(0, 10) / 100.0;
    delay_max_us_ = Uniform(1, 60) * kMs;
    TraceEvent("NETWORK loss=" + std::to_string(loss_) + " dup=" + std::to_string(duplicate_));
  } else if (action < 72) {
    loss_ = 0;
    duplicate_ = 0;
    delay_max_us_ = 2000;
    TraceEvent("NETWORK calm");
  } else if (action < 84) {
    SimNode* n = members[Uniform(0, members.size() - 1)];
    if (n->raft) TrySnapshot(*n);
  } else if (action < 94) {
    TryConfChange();
  } else {
    if (!leader) return;
    const auto& voters = leader->raft->conf_state().voters();
    const uint64_t target = voters[Uniform(0, voters.size() - 1)];
    if (target == leader->id) return;
    TraceEvent("TRANSFER leadership " + std::to_string(leader->id) + "->" + std::to_string(target));
    (void)leader->raft->TransferLeader(target);
    Pump(*leader);
  }
}

void Simulation::Churn(const std::vector<SimNode*>& members, SimNode* leader) {
  const int action = static_cast<int>(Uniform(0, 99));
  if (action < 40) {
    if (!leader) return;
    Crash(*leader);
    Schedule(now_ + Uniform(1, 150) * kMs,
             Event{EventKind::kRestart, leader->id, leader->incarnation});
  } else if (action < 55) {
    SimNode* victim = members[Uniform(0, members.size() - 1)];
    if (!victim->raft) return;
    Crash(*victim);
    Schedule(now_ + Uniform(1, 150) * kMs,
             Event{EventKind::kRestart, victim->id, victim->incarnation});
  } else if (action < 62) {
    // The leader keeps one follower: its new entries reach a minority only.
    if (!leader) return;
    SimNode* keep = members[Uniform(0, members.size() - 1)];
    std::vector<std::vector<uint64_t>> sides(2);
    for (SimNode* n : members) sides[n == leader || n == keep ? 0 : 1].push_back(n->id);
    HealNetwork();
    Partition(sides);
    TraceEvent("PARTITION leader " + std::to_string(leader->id) + " keeps " +
               std::to_string(keep->id));
  } else if (action < 75) {
    loss_ = Uniform(10, 50) / 100.0;
    delay_max_us_ = Uniform(1, 10) * kMs;
    TraceEvent("NETWORK loss=" + std::to_string(loss_));
  } else if (action < 90) {
    SimNode* a = members[Uniform(0, members.size() - 1)];
    SimNode* b = members[Uniform(0, members.size() - 1)];
    if (a == b) return;
    blocked_.insert({a->id, b->id});
    TraceEvent("BLOCK one way " + std::to_string(a->id) + "->" + std::to_string(b->id));
  } else {
    HealNetwork();
    TraceEvent("HEAL network");
  }
}

void Simulation::TrySnapshot(SimNode& n) {
  if (n.sm_index < n.storage->FirstIndex()) return;
  // The snapshot is taken at the applied index, with the membership the state machine holds
  // there; the log below it is compacted. Leaving no entries forces InstallSnapshot on laggers.
  const uint64_t index = n.sm_index;
  if (Status s = n.storage->CreateSnapshotAndCompact(index, n.sm_conf, Snapshot(index, n.sm_chain));
      !s.ok()) {
    Fail("SimHarness", "snapshot at " + std::to_string(index) + ": " + s.ToString());
    return;
  }
  snapshot_writes_[Snapshot(index, n.sm_chain)] = n.sm_writes;
  TraceEvent("SNAPSHOT node " + std::to_string(n.id) + " at " + std::to_string(index));
}

void Simulation::TryConfChange() {
  SimNode* leader = Leader();
  if (!leader) return;
  // Any change the leader's configuration allows, whatever else is in flight: refusing one
  // that overlaps a change not yet committed, or that comes before an entry of the leader's own
  // term commits, is the core's job. Voters stay between nodes and nodes + 2, so the cluster
  // passes through even sizes, where two changes from one configuration can have disjoint
  // majorities.
  const raftpb::ConfState& cs = leader->raft->conf_state();
  const int voters = cs.voters_size();
  std::vector<raftpb::ConfChange> options;
  auto option = [&options](raftpb::ConfChangeType type, uint64_t id) {
    options.emplace_back().set_type(type);
    options.back().set_node_id(id);
  };
  for (uint64_t id : cs.learners()) {
    if (voters < options_.nodes + 2) option(raftpb::CONF_PROMOTE_LEARNER, id);
    option(raftpb::CONF_REMOVE_NODE, id);
  }
  if (voters > options_.nodes) {
    option(raftpb::CONF_REMOVE_NODE, cs.voters(Uniform(0, voters - 1)));
  }
  if (cs.learners_size() == 0 && voters < options_.nodes + 2 && next_node_id_ < 40) {
    option(raftpb::CONF_ADD_LEARNER, next_node_id_);
  }
  if (options.empty()) return;
  const raftpb::ConfChange cc = options[Uniform(0, options.size() - 1)];
  const RaftLog& log = leader->raft->log();
  const uint64_t index = log.LastIndex() + 1;
  bool earlier_uncommitted = false;
  if (log.committed() < log.LastIndex()) {
    auto tail = log.Slice(log.committed() + 1, index, std::numeric_limits<uint64_t>::max());
    for (const raftpb::Entry& e : tail.ok() ? *tail : std::vector<raftpb::Entry>{}) {
      earlier_uncommitted |= e.type() == raftpb::ENTRY_CONF_CHANGE;
    }
  }
  const uint64_t term_at_commit = log.Term(log.committed()).value_or(0);
  Status s = leader->raft->ProposeConfChange(cc);
  TraceEvent("CONF " + raftpb::ConfChangeType_Name(cc.type()) + " " + std::to_string(cc.node_id()) +
             " at leader " + std::to_string(leader->id) + ": " + s.ToString());
  if (!s.ok()) return;
  checker_.ObserveConfigurationAppended(leader->id, leader->raft->term(), term_at_commit,
                                        earlier_uncommitted);
  ++result_.conf_changes;
  PendingChange& pending = conf_changes_[index];
  pending.data = cc.SerializeAsString();
  term_bound_.clear();  // the quorum arithmetic behind the bound no longer holds
  if (cc.type() == raftpb::CONF_ADD_LEARNER) {
    SimNode& n = nodes_[next_node_id_];
    n.id = next_node_id_++;
    n.storage = std::make_unique<MemoryStorage>();  // joins empty; learns the log from the leader
    n.tick_phase = Uniform(0, kTickUs - 1);
    pending.joining = n.id;
    Restart(n);
  }
  if (faults_active_ && !quiet_ && Chance(0.2)) {
    // The leader fails with the change appended but not yet committed: the next leader may not
    // have it, and the entry is truncated where it was copied.
    Schedule(now_ + Uniform(0, 3000), Event{EventKind::kCrash, leader->id, leader->incarnation});
  }
  Pump(*leader);
}

void Simulation::ClientWrite() {
  SimNode* leader = Leader();
  if (quiet_ && !liveness_write_acked_at_) {
    // The write that proves liveness: re-proposed if the leader that took it lost leadership.
    auto w = writes_.find(liveness_write_);
    const bool in_hands = w != writes_.end() && leader && w->second.node == leader->id &&
                          w->second.incarnation == leader->incarnation &&
                          w->second.term == leader->raft->term();
    if (in_hands || !leader) return;
    liveness_write_ = "liveness-" + std::to_string(next_write_++);
    if (leader->raft->Propose(liveness_write_).ok()) {
      writes_[liveness_write_] = {leader->id, leader->incarnation, leader->raft->term()};
      Pump(*leader);
    }
    return;
  }
  // Clients write to whichever node they believe leads: a deposed leader that has not noticed
  // yet takes writes too, and so grows an uncommitted suffix of its term.
  std::vector<SimNode*> leaders;
  for (auto& [id, n] : nodes_) {
    if (n.raft && n.raft->role() == Role::kLeader) leaders.push_back(&n);
  }
  if (leaders.empty() || !Chance(0.8)) return;
  leader = leaders[Uniform(0, leaders.size() - 1)];
  const std::string data = "w" + std::to_string(next_write_++);
  if (leader->raft->Propose(data).ok()) {
    writes_[data] = {leader->id, leader->incarnation, leader->raft->term()};
    Pump(*leader);
  }
}

void Simulation::ClientRead() {
  std::vector<SimNode*> up;
  for (auto& [id, n] : nodes_) {
    if (n.raft) up.push_back(&n);
  }
  if (up.empty()) return;
  SimNode* n = up[Uniform(0, up.size() - 1)];
  std::string ctx = "r" + std::to_string(next_read_++);
  // On a follower the core forwards the request to the leader it knows.
  reads_[ctx] = PendingRead{n->id, n->incarnation, max_acked_index_, checker_.acked_writes(),
                            n->raft->role() != Role::kLeader};
  n->raft->ReadIndex(ctx);
  Pump(*n);
}

void Simulation::CheckAfterEvent() {
  for (auto& [id, n] : nodes_) {
    if (!n.raft) continue;
    const Role role = n.raft->role();
    checker_.ObserveRole(n.id, n.raft->term(), role);
    if (role == Role::kLeader && n.seen_role != Role::kLeader) {
      ++result_.elections;
      TraceEvent("LEADER node " + std::to_string(n.id) + " term " + std::to_string(n.raft->term()));
      const RaftLog& log = n.raft->log();
      checker_.ObserveNewLeader(n.id, n.raft->term(), log.LastIndex(), log.FirstIndex(),
                                [&log](uint64_t i) { return log.Term(i); });
      // An operator whose membership change failed with "not leader" retries on the new leader
      // at once, before its term has committed anything.
      if (faults_active_ && !quiet_ && Chance(0.3)) {
        Schedule(now_ + Uniform(0, 2000), Event{EventKind::kConfChange});
      }
    }
    n.seen_role = role;
    if (n.raft->log().committed() != n.seen_commit) {
      n.seen_commit = n.raft->log().committed();
      const RaftLog& log = n.raft->log();
      checker_.ObserveCommit(n.id, n.seen_commit, [&log](uint64_t i) { return log.Term(i); });
    }
    if (checker_.violation()) break;
  }
  for (auto& [id, n] : nodes_) {
    // A member whose own removal it applied stops (after finishing its Ready).
    if (n.removed && n.raft && !n.persisting) Crash(n);
  }
  if (checker_.violation()) {
    Fail(checker_.violation()->check, checker_.violation()->detail);
    return;
  }
  if (result_.events % 1000 == 0) {
    for (auto& [id, n] : nodes_) CheckConfiguration(n);
  }
  CheckLeaderMatchTruthful();
  CheckOnlyCompleteLogsElectable();
  CheckMinorityTermBound();
  CheckStability();
  CheckLiveness();
}

void Simulation::CheckConfiguration(SimNode& n) {
  if (!n.raft) return;
  const RaftLog& log = n.raft->log();
  auto snapshot = log.Snapshot();
  if (!snapshot.ok()) {
    Fail("SimHarness", "node " + std::to_string(n.id) +
                           " has no snapshot metadata: " + snapshot.status().ToString());
    return;
  }
  std::vector<raftpb::Entry> entries;
  if (log.FirstIndex() <= log.LastIndex()) {
    auto slice =
        log.Slice(log.FirstIndex(), log.LastIndex() + 1, std::numeric_limits<uint64_t>::max());
    if (!slice.ok()) {
      Fail("SimHarness", "node " + std::to_string(n.id) + " log: " + slice.status().ToString());
      return;
    }
    entries = std::move(*slice);
  }
  checker_.ObserveConfiguration(n.id, n.raft->conf_state(), snapshot->metadata().conf_state(),
                                entries);
}

void Simulation::CheckOnlyCompleteLogsElectable() {
  // Leader Completeness, checked ahead of any election: a node whose log lacks the newest
  // committed entry must not be able to collect a quorum of votes on the up-to-date rule (Raft
  // §5.4.1) from the voters' durable logs — otherwise some schedule of timeouts elects it and
  // loses that entry. Holding the newest committed entry implies holding all older ones (Log
  // Matching), so that one entry is enough.
  const uint64_t k = checker_.max_committed();
  const std::optional<uint64_t> k_term = checker_.committed_term(k);
  if (k == 0 || !k_term) return;
  for (auto& [nid, n] : nodes_) {
    if (!n.raft) continue;
    const RaftLog& log = n.raft->log();
    if (k < log.FirstIndex()) continue;  // inside its snapshot
    if (log.Term(k) == k_term) continue;
    const raftpb::ConfState& cs = n.raft->conf_state();
    if (!IsVoter(cs, nid)) continue;
    const uint64_t last = log.LastIndex(), last_term = log.LastTerm();
    size_t grants = 0;
    for (uint64_t vid : cs.voters()) {
      SimNode* v = NodeById(vid);
      if (!v) continue;
      const uint64_t v_last = v->storage->LastIndex();
      const uint64_t v_term = *v->storage->Term(v_last);
      if (last_term > v_term || (last_term == v_term && last >= v_last)) ++grants;
    }
    if (grants >= QuorumSize(cs.voters_size())) {
      Fail("OnlyCompleteLogsElectable",
           "node " + std::to_string(nid) + " lacks committed entry " + std::to_string(k) + "@" +
               std::to_string(*k_term) + " (its log ends " + std::to_string(last) + "@" +
               std::to_string(last_term) + ") yet " + std::to_string(grants) + " of " +
               std::to_string(cs.voters_size()) + " voters' durable logs would elect it");
      return;
    }
  }
}

void Simulation::CheckLeaderMatchTruthful() {
  // What a leader believes a follower of its own term holds, the follower holds: a follower's
  // log changes within a term only by that term's leader, who never asks it to drop entries
  // already matched.
  for (auto& [lid, l] : nodes_) {
    if (!l.raft || l.raft->role() != Role::kLeader) continue;
    for (auto& [fid, f] : nodes_) {
      if (fid == lid || !f.raft || f.raft->term() != l.raft->term()) continue;
      const Progress* pr = l.raft->progress(fid);
      if (!pr || pr->match == 0 || pr->match < f.raft->log().FirstIndex()) continue;
      auto ft = f.raft->log().Term(pr->match);
      auto lt = l.raft->log().Term(pr->match);
      if (!lt) continue;
      if (!ft || *ft != *lt) {
        Fail("LeaderMatchTruthful",
             "leader " + std::to_string(lid) + " believes node " + std::to_string(fid) +
                 " matches up to " + std::to_string(pr->match) + " but it " +
                 (ft ? "holds term " + std::to_string(*ft) + " there" : "lacks that entry"));
        return;
      }
    }
  }
}

void Simulation::CheckMinorityTermBound() {
  for (const auto& [id, bound] : term_bound_) {
    SimNode* n = NodeById(id);
    if (n && n->raft && n->raft->term() > bound) {
      Fail("MinorityTermBound",
           "node " + std::to_string(id) + " reached term " + std::to_string(n->raft->term()) +
               " while cut off from a quorum (bound " + std::to_string(bound) + ")");
      return;
    }
  }
}

void Simulation::CheckStability() {
  // With no fault active, a leader that hears a quorum is never deposed, and a node that comes
  // back (restarted, or its links healed) does not raise the term (PreVote and CheckQuorum).
  // "No fault active" is the quiet phase: every link healthy and prompt, no loss, no crash, no
  // membership change or transfer; a minority may be held out and then rejoins. Checking starts
  // once the rest follow one leader, at least one maximum election timeout after the heal, so
  // timers and messages from the chaos phase have run out.
  if (!quiet_) return;
  SimNode* leader = Leader();
  if (stable_leader_) {
    const auto [id, term] = *stable_leader_;
    SimNode* l = NodeById(id);
    for (auto& [nid, n] : nodes_) {
      if (n.removed || !n.raft || n.raft->term() <= term) continue;
      Fail("Stability", "node " + std::to_string(nid) + " moved to term " +
                            std::to_string(n.raft->term()) + " while leader " + std::to_string(id) +
                            " of term " + std::to_string(term) +
                            " was healthy and no fault was active");
      return;
    }
    if (!l || !l->raft || l->raft->role() != Role::kLeader) {
      Fail("Stability", "leader " + std::to_string(id) + " of term " + std::to_string(term) +
                            " was deposed with no fault active");
    }
    return;
  }
  if (now_ - settle_since_ < 300 * kMs) return;
  if (!leader || conf_change_pending() || leader->raft->lead_transferee() != 0) return;
  const uint64_t term = leader->raft->term();
  for (SimNode* n : LiveMembers()) {
    if (held_out_.count(n->id)) continue;
    if (!n->raft || n->raft->term() != term || n->raft->lead() != leader->id) return;
  }
  for (uint64_t id : held_out_) {
    // A node held out with a term above the leader's was a candidate when it was cut off: its
    // return rightly deposes the leader. Let it back now and settle again.
    const SimNode* n = NodeById(id);
    const uint64_t t = n->raft ? n->raft->term() : n->storage->hard_state().term();
    if (t > term) {
      Rejoin();
      settle_since_ = now_;
      return;
    }
  }
  stable_leader_ = std::make_pair(leader->id, term);
  TraceEvent("STABLE leader " + std::to_string(leader->id) + " term " + std::to_string(term));
  if (!held_out_.empty()) Schedule(now_ + Uniform(1, 600) * kMs, Event{EventKind::kRejoin});
}

void Simulation::CheckLiveness() {
  if (!quiet_) return;
  const int64_t since = now_ - quiet_since_;
  if (since > kLeaderDeadlineUs && !Leader()) {
    Fail("Liveness", "no leader " + std::to_string(kLeaderDeadlineUs / kMs) +
                         " ms (10 election timeouts) after every fault healed");
  } else if (since > kWriteDeadlineUs && !liveness_write_acked_at_) {
    Fail("Liveness", "no proposal committed " + std::to_string(kWriteDeadlineUs / kMs) +
                         " ms after every fault healed");
  }
}

}  // namespace pharos::raft::sim
