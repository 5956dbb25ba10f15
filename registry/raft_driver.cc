#include "registry/raft_driver.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "common/asio.h"
#include "raft/log_store.h"
#include "raft/transport.h"
#include "registry/cluster_id.h"
#include "registry/storage_engine.h"

namespace pharos::registry {

namespace asio = boost::asio;

// The raft thread and what it runs. Shared only so that a snapshot's `done`, which may come from
// any thread at any time, can tell whether the driver is still there to post to.
struct RaftDriver::Loop {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  asio::steady_timer tick{io};
  asio::steady_timer commit_linger{io};
  std::thread thread;
};

RaftDriver::RaftDriver(Post post, Callbacks callbacks)
    : post_(std::move(post)), callbacks_(std::move(callbacks)), loop_(std::make_shared<Loop>()) {}

RaftDriver::~RaftDriver() { Stop(); }

Result<std::unique_ptr<RaftDriver>> RaftDriver::Start(StorageEngine& storage,
                                                      RaftDriverOptions options, Post post,
                                                      Callbacks callbacks) {
  std::unique_ptr<RaftDriver> d(new RaftDriver(std::move(post), std::move(callbacks)));
  d->options_ = options;
  d->storage_ = &storage;
  auto log = raft::LogStore::Open(storage.db(), storage.raft_log(), storage.raft_meta(),
                                  options.bootstrap_voters);
  if (!log.ok()) return log.status();
  d->log_ = std::move(*log);
  if (Status s = d->RestoreReceivedSnapshot(); !s.ok()) return s;

  raft::RaftConfig config;
  config.id = options.id;
  config.election_tick_min = options.election_min_ticks;
  config.election_tick_max = options.election_max_ticks;
  config.heartbeat_tick = options.heartbeat_ticks;
  config.applied = options.applied;
  config.defer_commit_broadcast = options.commit_linger_us > 0;
  config.seed = options.id ^
                static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  auto node = raft::Node::Create(config, d->log_.get());
  if (!node.ok()) return node.status();
  d->node_ = std::move(*node);

  raft::TransportOptions topts;
  topts.self_id = options.id;
  topts.listen = options.listen_peer;
  topts.bind_host = options.listen_peer.substr(0, options.listen_peer.rfind(':'));
  topts.lookup_failed = [id = options.id](uint64_t peer, const std::string& error) {
    spdlog::warn(
        "member {:x}: peer {:x} is unreachable: {} (its name is looked up again for "
        "every connection)",
        id, peer, error);
  };
  // The transport's callbacks run on the raft thread, which the driver joins before it goes.
  RaftDriver* raw = d.get();
  d->transport_ = std::make_unique<raft::Transport>(
      d->loop_->io, topts,
      [raw](raftpb::Message m) {
        if (raw->stopped_ || !raw->SameCluster(m)) return;
        (void)raw->node_->Step(m);
        raw->PumpAfterThisRead();
      },
      [raw](uint64_t peer) {
        if (raw->stopped_) return;
        raw->node_->ReportUnreachable(peer);
      },
      [raw](uint64_t peer, bool ok) {
        if (raw->stopped_) return;
        raw->node_->ReportSnapshot(peer, ok);
        raw->Pump();
      });
  if (Status s = d->transport_->Start(); !s.ok()) return s;
  for (const auto& [id, address] : options.peers) {
    if (id == options.id) continue;
    if (Status s = d->transport_->AddPeer(id, address); !s.ok()) return s;
  }
  d->PublishStatus();
  d->ScheduleTick();
  // Everything above happens before the thread starts, so the thread sees it all.
  d->loop_->thread = std::thread([loop = d->loop_.get()] {
    pthread_setname_np(pthread_self(), "pharos-raft");
    loop->io.run();
  });
  return d;
}

Status RaftDriver::RestoreReceivedSnapshot() {
  auto received = log_->ReceivedSnapshot();
  if (!received.ok()) return received.status();
  const uint64_t snapshot_index = log_->FirstIndex() - 1;
  if (options_.applied >= snapshot_index) {
    // Restored before the stop: the data is only space now.
    if (*received) log_->ForgetReceivedSnapshot((*received)->metadata().index());
    return Status::Ok();
  }
  // The log was cut at a snapshot the state machine never restored (a crash between the two).
  // Starting anyway would apply the entries after the snapshot on top of a state that lacks
  // those before it.
  if (!*received || (*received)->metadata().index() != snapshot_index) {
    return Status::Corruption(
        "the raft log starts after index " + std::to_string(snapshot_index) +
        " but the key-value store has applied only up to " + std::to_string(options_.applied) +
        ", and no snapshot data is kept to restore: this member's data cannot be used (remove "
        "the member, and add it back with an empty data directory)");
  }
  spdlog::warn(
      "member {:x}: restoring the snapshot at raft index {}, received before the last stop "
      "(the key-value store had applied up to {})",
      options_.id, snapshot_index, options_.applied);
  received_snapshot_ = snapshot_index;
  // Queued ahead of every entry the core will hand over.
  if (callbacks_.apply) callbacks_.apply(std::move(**received), {});
  return Status::Ok();
}

void RaftDriver::RunOnRaftThread(std::function<void()> fn) {
  if (stopping_) return;  // `fn` (and any completion in it) is destroyed here, on the owner's
  asio::post(loop_->io, [this, fn = std::move(fn)] {
    if (stopped_) return;
    fn();
  });
}

void RaftDriver::ToOwner(std::function<void()> fn) const { post_(std::move(fn)); }

void RaftDriver::ScheduleTick() {
  const auto due = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.tick_ms);
  loop_->tick.expires_at(due);
  loop_->tick.async_wait([this, due](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    WarnIfLate(due);
    node_->Tick();
    Pump();
    MaybeCompact();
    ScheduleTick();
  });
}

void RaftDriver::PublishStatus() {
  const raft::NodeStatus st = node_->status();
  {
    std::lock_guard<std::mutex> lock(status_mu_);
    status_ = st;
  }
  const raft::SoftState soft{st.lead, st.role};
  if (soft == told_soft_ && st.term == told_term_) return;
  told_soft_ = soft;
  told_term_ = st.term;
  if (callbacks_.soft_state) {
    ToOwner([cb = callbacks_.soft_state, soft, term = st.term, seen = seen_ticket_] {
      cb(soft, term, seen);
    });
  }
}

void RaftDriver::PumpAfterThisRead() {
  if (pump_deferred_) return;
  pump_deferred_ = true;
  asio::defer(loop_->io, [this] {
    pump_deferred_ = false;
    Pump();
  });
}

void RaftDriver::Pump() {
  PumpReady();
  MaybeLingerCommit();
}

void RaftDriver::MaybeLingerCommit() {
  if (stopped_) return;
  if (!node_->commit_broadcast_pending()) {
    // Proposals' appends carried it: a timer left to fire would wake this thread for nothing.
    if (commit_lingering_) {
      loop_->commit_linger.cancel();
      commit_lingering_ = false;
    }
    return;
  }
  if (commit_lingering_) return;
  commit_lingering_ = true;
  loop_->commit_linger.expires_after(std::chrono::microseconds(options_.commit_linger_us));
  loop_->commit_linger.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    commit_lingering_ = false;
    // A proposal's appends may have carried it meanwhile: then this sends nothing.
    node_->SendDeferredCommit();
    Pump();
  });
}

void RaftDriver::PumpReady() {
  if (stopped_) return;
  // Whatever brought us here (a tick, a message, a proposal) may have changed the leader, the
  // role or the term: the owner hears of it before the Ready's effects.
  PublishStatus();
  Send(node_->TakeSendableMessages());
  if (persisting_) {
    // Entries a quorum just committed are applied now rather than after the log write in flight:
    // under load there is nearly always one, and the wait would add an fsync to every put.
    std::vector<raftpb::Entry> committed = node_->TakeCommittedEntries();
    if (!committed.empty() && callbacks_.apply) {
      callbacks_.apply(std::nullopt, std::move(committed));
    }
    // Likewise confirmed reads: a read's confirmation has nothing to do with our own disk.
    DeliverReadStates(node_->TakeReadStates());
    return;
  }
  if (!node_->HasReady()) return;
  raft::Ready rd = node_->GetReady();
  // Ready::messages leave now, in parallel with our own fsync (ready.h, rule 2).
  Send(std::move(rd.messages));
  persisting_ = true;
  // A hard state whose term and vote are unchanged (must_sync false) differs in its commit index
  // only, which Raft need not keep: a restart takes the applied index as committed and learns the
  // rest from the leader (Node::Create). Written, it cost every member a write on the log's
  // thread, and two wake-ups, for every commit. It goes with the next write that has entries.
  if (!rd.must_sync && rd.entries.empty() && !rd.snapshot) {
    HandToApplication(rd);
    OnPersisted(Status::Ok(), std::move(rd));
    return;
  }
  raft::LogStore::Write w;
  w.sync = rd.must_sync;
  w.hard_state = rd.hard_state;
  // Moved: nothing reads rd.entries after this (OnPersisted uses the other parts of the Ready).
  w.entries = std::move(rd.entries);
  if (rd.snapshot) {
    w.snapshot = rd.snapshot->metadata();
    w.snapshot_data = rd.snapshot->data();  // a copy: the apply thread restores from the Ready's
  }
  // Every member's write goes to the log's writer thread, a follower's too, so this thread never
  // waits on the disk. Writing here would save a follower two wake-ups per append, but while its
  // disk stalled it would answer no heartbeat: two followers stalled past an election timeout and
  // CheckQuorum deposed a healthy leader, again and again (PERFORMANCE.md, "Run 38"). A follower
  // whose write is in flight still answers heartbeats; its acknowledgements wait for the write
  // (ready.h, rule 3).
  // The writer is woken before the apply thread: the write is what the next acknowledgement
  // waits on. The writer is joined (when log_ goes) before loop_ goes; its completion runs on
  // this thread, so after the Ready is moved in below.
  auto shared = std::make_shared<raft::Ready>();
  log_->Submit(std::move(w), [this, shared, role = node_->role(),
                              started = std::chrono::steady_clock::now()](Status s) {
    // Timed here, on the log's thread: after the hop, a busy raft thread would count as disk time.
    const auto written = std::chrono::steady_clock::now();
    asio::post(loop_->io, [this, shared, s, role, started, written]() mutable {
      if (stopped_) return;
      WarnIfSlow(role, written - started);
      OnPersisted(std::move(s), std::move(*shared));
    });
  });
  HandToApplication(rd);
  *shared = std::move(rd);
}

std::chrono::milliseconds RaftDriver::WarningLimit(int configured) const {
  return std::chrono::milliseconds(
      configured >= 0 ? configured : options_.election_min_ticks * options_.tick_ms / 2);
}

void RaftDriver::WarnIfSlow(raft::Role role, std::chrono::steady_clock::duration took) {
  // The line says why a leader changed with every member up, as etcd's "slow fdatasync" does.
  if (took < WarningLimit(options_.warn_log_write_ms)) return;
  spdlog::warn("member {:x} ({}): raft log write took {} ms (term {})", options_.id,
               raft::RoleName(role),
               std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), node_->term());
}

void RaftDriver::WarnIfLate(std::chrono::steady_clock::time_point due) {
  // The other cause: this thread itself was busy (or starved of CPU), and sent no heartbeat and
  // answered none while it was; etcd says "failed to send out heartbeat on time".
  const auto late = std::chrono::steady_clock::now() - due;
  if (late < WarningLimit(options_.warn_raft_thread_late_ms)) return;
  spdlog::warn(
      "member {:x} ({}): the raft thread ran {} ms late (busy or starved of CPU; no heartbeat "
      "went out or was answered meanwhile) (term {})",
      options_.id, raft::RoleName(node_->role()),
      std::chrono::duration_cast<std::chrono::milliseconds>(late).count(), node_->term());
}

void RaftDriver::HandToApplication(raft::Ready& rd) {
  // Committed entries are durable here already (ready.h, rule 4): applied in parallel with the
  // write. A snapshot is applied after its write, with the entries that follow it (OnPersisted).
  if (!rd.snapshot && !rd.committed_entries.empty() && callbacks_.apply) {
    callbacks_.apply(std::nullopt, std::move(rd.committed_entries));
    rd.committed_entries.clear();
  }
  DeliverReadStates(std::move(rd.read_states));
  rd.read_states.clear();
}

void RaftDriver::OnPersisted(Status s, raft::Ready rd) {
  if (stopped_) return;
  if (!s.ok()) {
    // The log cannot be written: continuing could acknowledge what is not durable.
    spdlog::critical("raft log write failed: {}; stopping", s.ToString());
    std::abort();
  }
  Send(std::move(rd.messages_after_persist));
  if (rd.hard_state && rd.hard_state->removed() && callbacks_.removed) {
    ToOwner(callbacks_.removed);  // the removed hard state is written at most once
  }
  if (rd.snapshot) received_snapshot_ = rd.snapshot->metadata().index();
  if ((rd.snapshot || !rd.committed_entries.empty()) && callbacks_.apply) {
    callbacks_.apply(std::move(rd.snapshot), std::move(rd.committed_entries));
  }
  node_->Advance();
  persisting_ = false;
  Pump();
}

void RaftDriver::DeliverReadStates(std::vector<raft::ReadState> states) {
  if (!callbacks_.read_state || states.empty()) return;
  ToOwner([cb = callbacks_.read_state, states = std::move(states)] {
    for (const raft::ReadState& r : states) cb(r);
  });
}

bool RaftDriver::SameCluster(const raftpb::Message& m) {
  const uint64_t theirs = m.cluster_id();
  if (theirs == 0 || theirs == options_.cluster_id) return true;
  if (options_.cluster_id == 0) {
    // Durable before the core sees the message: once its term, vote or entries are synced, a
    // restart must find the id too, or the member would adopt any cluster's id then. Once per
    // member lifetime; if it fails the message is dropped and the next one tries again.
    if (Status s = SaveClusterId(*storage_, theirs); !s.ok()) {
      spdlog::error("cannot keep cluster id {:x} learned from member {:x}: {}", theirs, m.from(),
                    s.ToString());
      return false;
    }
    options_.cluster_id = theirs;
    spdlog::info("joined cluster {:x} (learned from member {:x})", theirs, m.from());
    if (callbacks_.cluster_id_learned) {
      ToOwner([cb = callbacks_.cluster_id_learned, theirs] { cb(theirs); });
    }
    return true;
  }
  // A member of another cluster at an address we know (a restored cluster beside its source, a
  // reused port): its votes and entries must never reach our core. Logged, not every time.
  if (foreign_dropped_++ % 1000 == 0) {
    spdlog::warn(
        "dropped a message from member {:x} of cluster {:x}: this member is in cluster "
        "{:x} ({} dropped so far)",
        m.from(), theirs, options_.cluster_id, foreign_dropped_);
  }
  return false;
}

void RaftDriver::Send(std::vector<raftpb::Message> messages) {
  std::vector<raftpb::Message> now;
  for (raftpb::Message& m : messages) {
    m.set_cluster_id(options_.cluster_id);
    if (m.type() != raftpb::MSG_SNAP || !callbacks_.snapshot_data) {
      now.push_back(std::move(m));
      continue;
    }
    // The log holds only the snapshot's metadata: the data is the state machine's own,
    // produced on the apply thread, at or after the snapshot's index (DescribeSnapshotByItsData).
    const uint64_t to = m.to();
    callbacks_.snapshot_data([this, m = std::move(m), to, weak = std::weak_ptr<Loop>(loop_)](
                                 Result<SnapshotData> data) mutable {
      // Any thread: the driver may be gone, or stopped (then the post is never run).
      std::shared_ptr<Loop> loop = weak.lock();
      if (!loop) return;
      asio::post(loop->io, [this, m = std::move(m), to, data = std::move(data)]() mutable {
        if (stopped_) return;
        if (!data.ok()) {
          spdlog::warn("snapshot for {:x} failed: {}", to, data.status().ToString());
          node_->ReportSnapshot(to, false);
          return;
        }
        if (!DescribeSnapshotByItsData(m, *data)) {
          spdlog::warn("snapshot for {:x}: the log no longer holds index {}, the data's; retrying",
                       to, data->applied_index);
          node_->ReportSnapshot(to, false);
          return;
        }
        m.mutable_snapshot()->set_data(std::move(data->data));
        std::vector<raftpb::Message> one;
        one.push_back(std::move(m));
        transport_->Send(std::move(one));
      });
    });
  }
  transport_->Send(std::move(now));
}

bool RaftDriver::DescribeSnapshotByItsData(raftpb::Message& m, const SnapshotData& data) {
  // The core chose the compacted point, up to snapshot_catchup_entries below what the data
  // holds. Described by that point, the follower's log would end there while its state machine
  // went on to the data's index, and a restart before its log caught up would find a state
  // machine ahead of its log (Node::Create refuses that). Described by the data's own index, the
  // two agree, and the follower gets from the log only the entries the data lacks. The leader
  // still holds that index: the data was read after the compaction's applied index.
  raftpb::SnapshotMetadata* meta = m.mutable_snapshot()->mutable_metadata();
  if (data.applied_index < meta->index()) return false;
  if (data.applied_index == meta->index()) return true;
  const std::optional<uint64_t> term = node_->log().Term(data.applied_index);
  if (!term) return false;
  meta->set_index(data.applied_index);
  meta->set_term(*term);
  *meta->mutable_conf_state() = node_->ConfStateAt(data.applied_index);
  return true;
}

void RaftDriver::MaybeCompact() {
  if (!options_.applied_index) return;
  const uint64_t applied = options_.applied_index();
  if (received_snapshot_ != 0 && applied >= received_snapshot_) {
    // Restored (its write is synced) and applied past: the log need not keep its data.
    log_->ForgetReceivedSnapshot(received_snapshot_);
    received_snapshot_ = 0;
  }
  if (compacting_) return;
  if (applied <= options_.snapshot_catchup_entries) return;
  const uint64_t index = applied - options_.snapshot_catchup_entries;
  if (index < log_->FirstIndex() + options_.snapshot_count) return;
  const auto term = node_->log().Term(index);
  if (!term) return;
  raftpb::SnapshotMetadata meta;
  meta.set_index(index);
  meta.set_term(*term);
  *meta.mutable_conf_state() = node_->ConfStateAt(index);
  compacting_ = true;
  log_->CompactAsync(meta, [this, index](Status s) {
    asio::post(loop_->io, [this, index, s] {
      if (stopped_) return;
      if (s.ok()) {
        spdlog::info("raft log compacted up to {}", index);
      } else {
        spdlog::warn("raft log compaction at {} failed: {}", index, s.ToString());
      }
      compacting_ = false;
    });
  });
}

uint64_t RaftDriver::Propose(std::string data, Done refused) {
  const uint64_t ticket = ++next_ticket_;
  {
    std::lock_guard<std::mutex> lock(proposals_mu_);
    waiting_proposals_.push_back({ticket, std::move(data), std::move(refused)});
    if (proposals_posted_) return ticket;
    proposals_posted_ = true;
  }
  RunOnRaftThread([this] { ProposeWaiting(); });
  return ticket;
}

void RaftDriver::ProposeWaiting() {
  std::vector<WaitingProposal> batch;
  {
    std::lock_guard<std::mutex> lock(proposals_mu_);
    batch.swap(waiting_proposals_);
    proposals_posted_ = false;
  }
  if (batch.empty()) return;
  std::vector<std::string> data;
  data.reserve(batch.size());
  for (WaitingProposal& p : batch) data.push_back(std::move(p.data));
  Status s = node_->ProposeBatch(std::move(data));
  seen_ticket_ = batch.back().ticket;
  // Before Pump, which may tell the owner of a change with these tickets seen.
  if (!s.ok()) {
    std::vector<Done> refused;
    for (WaitingProposal& p : batch) {
      if (p.refused) refused.push_back(std::move(p.refused));
    }
    if (!refused.empty()) {
      ToOwner([refused = std::move(refused), s] {
        for (const Done& r : refused) r(s);
      });
    }
  }
  Pump();
}

void RaftDriver::ProposeOrForward(std::string data) {
  RunOnRaftThread([this, data = std::move(data)]() mutable {
    (void)node_->ProposeOrForward(std::move(data));
    Pump();
  });
}

void RaftDriver::ProposeConfChange(raftpb::ConfChange cc,
                                   std::function<void(Status, uint64_t)> done) {
  RunOnRaftThread([this, cc = std::move(cc), done = std::move(done)]() mutable {
    Status s = node_->ProposeConfChange(cc);
    const uint64_t index = s.ok() ? node_->log().LastIndex() : 0;
    if (done) ToOwner([done = std::move(done), s, index] { done(s, index); });
    Pump();
  });
}

void RaftDriver::AddPeer(uint64_t id, std::string address) {
  RunOnRaftThread([this, id, address = std::move(address)] {
    if (id == options_.id) return;
    // A member table is written by members that validated their own address; an address that
    // still fails here is worth a line, since that member is unreachable from this one.
    if (Status s = transport_->AddPeer(id, address); !s.ok()) {
      spdlog::warn("member {:x}: {}", id, s.message());
    }
  });
}

void RaftDriver::RemovePeer(uint64_t id) {
  RunOnRaftThread([this, id] { transport_->RemovePeer(id); });
}

void RaftDriver::ReadIndex(std::string context) {
  RunOnRaftThread([this, context = std::move(context)]() mutable {
    node_->ReadIndex(std::move(context));
    Pump();
  });
}

void RaftDriver::TransferLeader(uint64_t id, Done done) {
  RunOnRaftThread([this, id, done = std::move(done)]() mutable {
    Status s = node_->TransferLeader(id);
    if (done) ToOwner([done = std::move(done), s] { done(s); });
    Pump();
  });
}

void RaftDriver::HandOverLeadership(Done done) {
  RunOnRaftThread([this, done = std::move(done)]() mutable {
    if (node_->status().role != raft::Role::kLeader) {
      if (done) ToOwner([done = std::move(done)] { done(Status::NotFound("not the leader")); });
      return;
    }
    uint64_t best = 0, best_match = 0;
    for (uint64_t id : node_->conf_state().voters()) {
      const raft::Progress* pr = node_->progress(id);
      if (id != options_.id && pr && pr->match >= best_match) {
        best = id;
        best_match = pr->match;
      }
    }
    Status s = Status::NotFound("no other voter to hand leadership to");
    if (best != 0) {
      spdlog::info("shutting down: transferring leadership to {:x}", best);
      s = node_->TransferLeader(best);
    }
    if (done) ToOwner([done = std::move(done), s] { done(s); });
    Pump();
  });
}

raft::NodeStatus RaftDriver::status() const {
  std::lock_guard<std::mutex> lock(status_mu_);
  return status_;
}

void RaftDriver::Stop() {
  if (stopping_) return;
  stopping_ = true;
  if (!loop_->thread.joinable()) {  // Start failed before the thread began: nothing runs
    stopped_ = true;
    if (transport_) transport_->Stop();
    return;
  }
  asio::post(loop_->io, [this] {
    stopped_ = true;
    loop_->tick.cancel();
    loop_->commit_linger.cancel();
    if (transport_) transport_->Stop();
    // Nothing queued after this runs: completions still queued are destroyed with the driver.
    loop_->io.stop();
  });
  loop_->thread.join();
}

}  // namespace pharos::registry
