#include "registry/raft_driver.h"

#include <spdlog/spdlog.h>

#include "common/asio.h"
#include "raft/log_store.h"
#include "raft/transport.h"
#include "registry/storage_engine.h"

namespace pharos::registry {

namespace asio = boost::asio;

struct RaftDriver::Timer {
  explicit Timer(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
};

RaftDriver::RaftDriver(asio::io_context& io, Callbacks callbacks)
    : io_(io), callbacks_(std::move(callbacks)), timer_(std::make_unique<Timer>(io)) {}

RaftDriver::~RaftDriver() { Stop(); }

Result<std::unique_ptr<RaftDriver>> RaftDriver::Start(asio::io_context& io, StorageEngine& storage,
                                                      RaftDriverOptions options,
                                                      Callbacks callbacks) {
  std::unique_ptr<RaftDriver> d(new RaftDriver(io, std::move(callbacks)));
  d->options_ = options;
  auto log = raft::LogStore::Open(storage.db(), storage.raft_log(), storage.raft_meta(),
                                  options.bootstrap_voters);
  if (!log.ok()) return log.status();
  d->log_ = std::move(*log);

  raft::RaftConfig config;
  config.id = options.id;
  config.election_tick_min = options.election_min_ticks;
  config.election_tick_max = options.election_max_ticks;
  config.heartbeat_tick = options.heartbeat_ticks;
  config.applied = options.applied;
  config.seed = options.id ^
                static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  auto node = raft::Node::Create(config, d->log_.get());
  if (!node.ok()) return node.status();
  d->node_ = std::move(*node);

  raft::TransportOptions topts;
  topts.self_id = options.id;
  topts.listen = options.listen_peer;
  topts.bind_host = options.listen_peer.substr(0, options.listen_peer.rfind(':'));
  RaftDriver* raw = d.get();
  std::weak_ptr<bool> alive = d->alive_;
  d->transport_ = std::make_unique<raft::Transport>(
      io, topts,
      [raw, alive](raftpb::Message m) {
        if (alive.expired() || raw->stopped_ || !raw->SameCluster(m)) return;
        (void)raw->node_->Step(m);
        raw->Pump();
      },
      [raw, alive](uint64_t peer) {
        if (alive.expired() || raw->stopped_) return;
        raw->node_->ReportUnreachable(peer);
      },
      [raw, alive](uint64_t peer, bool ok) {
        if (alive.expired() || raw->stopped_) return;
        raw->node_->ReportSnapshot(peer, ok);
        raw->Pump();
      });
  if (Status s = d->transport_->Start(); !s.ok()) return s;
  for (const auto& [id, address] : options.peers) {
    if (id != options.id) d->transport_->AddPeer(id, address);
  }
  d->ScheduleTick();
  return d;
}

void RaftDriver::ScheduleTick() {
  timer_->timer.expires_after(std::chrono::milliseconds(options_.tick_ms));
  timer_->timer.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
        if (ec || alive.expired() || stopped_) return;
        node_->Tick();
        Pump();
        ScheduleTick();
      });
}

void RaftDriver::Pump() {
  if (stopped_) return;
  Send(node_->TakeSendableMessages());
  if (persisting_ || !node_->HasReady()) return;
  raft::Ready rd = node_->GetReady();
  if (rd.soft_state && callbacks_.soft_state) callbacks_.soft_state(*rd.soft_state);
  // Ready::messages leave now, in parallel with our own fsync.
  Send(std::move(rd.messages));
  persisting_ = true;
  if (!rd.must_sync && !rd.hard_state && rd.entries.empty() && !rd.snapshot) {
    OnPersisted(Status::Ok(), std::move(rd));
    return;
  }
  raft::LogStore::Write w;
  w.sync = rd.must_sync;
  w.hard_state = rd.hard_state;
  w.entries = rd.entries;
  if (rd.snapshot) w.snapshot = rd.snapshot->metadata();
  auto shared = std::make_shared<raft::Ready>(std::move(rd));
  log_->Submit(std::move(w), [this, shared, alive = std::weak_ptr<bool>(alive_)](Status s) {
    // On the writer thread: hop back to the I/O thread.
    asio::post(io_, [this, shared, alive, s]() mutable {
      if (alive.expired()) return;
      OnPersisted(std::move(s), std::move(*shared));
    });
  });
}

void RaftDriver::OnPersisted(Status s, raft::Ready rd) {
  if (stopped_) return;
  if (!s.ok()) {
    // The log cannot be written: continuing could acknowledge what is not durable.
    spdlog::critical("raft log write failed: {}; stopping", s.ToString());
    std::abort();
  }
  Send(std::move(rd.messages_after_persist));
  if ((rd.snapshot || !rd.committed_entries.empty()) && callbacks_.apply) {
    callbacks_.apply(std::move(rd.snapshot), std::move(rd.committed_entries));
  }
  if (callbacks_.read_state) {
    for (const raft::ReadState& r : rd.read_states) callbacks_.read_state(r);
  }
  node_->Advance();
  persisting_ = false;
  Pump();
}

bool RaftDriver::SameCluster(const raftpb::Message& m) {
  const uint64_t theirs = m.cluster_id();
  if (theirs == 0 || theirs == options_.cluster_id) return true;
  if (options_.cluster_id == 0) {
    options_.cluster_id = theirs;
    spdlog::info("joined cluster {:x} (learned from member {:x})", theirs, m.from());
    if (callbacks_.cluster_id_learned) callbacks_.cluster_id_learned(theirs);
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
    // produced on the apply thread (at or after the snapshot's index; entries the follower then
    // receives again are skipped by the state machine as already applied).
    const uint64_t to = m.to();
    callbacks_.snapshot_data([this, m = std::move(m), to, alive = std::weak_ptr<bool>(alive_)](
                                 Result<std::string> data) mutable {
      if (alive.expired() || stopped_) return;
      if (!data.ok()) {
        spdlog::warn("snapshot for {:x} failed: {}", to, data.status().ToString());
        node_->ReportSnapshot(to, false);
        return;
      }
      m.mutable_snapshot()->set_data(std::move(*data));
      transport_->Send({std::move(m)});
    });
  }
  transport_->Send(now);
}

void RaftDriver::MaybeCompact(uint64_t index) {
  if (stopped_ || compacting_ || index < log_->FirstIndex() + options_.snapshot_count) return;
  auto term = node_->log().Term(index);
  if (!term) return;
  raftpb::SnapshotMetadata meta;
  meta.set_index(index);
  meta.set_term(*term);
  *meta.mutable_conf_state() = node_->ConfStateAt(index);
  compacting_ = true;
  log_->CompactAsync(meta, [this, index, alive = std::weak_ptr<bool>(alive_)](Status s) {
    asio::post(io_, [this, index, s, alive] {
      if (alive.expired()) return;
      compacting_ = false;
      if (s.ok()) {
        spdlog::info("raft log compacted up to {}", index);
      } else {
        spdlog::warn("raft log compaction at {} failed: {}", index, s.ToString());
      }
    });
  });
}

Status RaftDriver::Propose(std::string data) {
  Status s = node_->Propose(std::move(data));
  Pump();
  return s;
}

Status RaftDriver::ProposeOrForward(std::string data) {
  Status s = node_->ProposeOrForward(std::move(data));
  Pump();
  return s;
}

Status RaftDriver::ProposeConfChange(const raftpb::ConfChange& cc, uint64_t* index) {
  Status s = node_->ProposeConfChange(cc);
  if (s.ok() && index) *index = node_->log().LastIndex();
  Pump();
  return s;
}

void RaftDriver::AddPeer(uint64_t id, const std::string& address) {
  if (id != options_.id) transport_->AddPeer(id, address);
}

void RaftDriver::RemovePeer(uint64_t id) { transport_->RemovePeer(id); }

void RaftDriver::ReadIndex(std::string context) {
  node_->ReadIndex(std::move(context));
  Pump();
}

Status RaftDriver::TransferLeader(uint64_t id) {
  Status s = node_->TransferLeader(id);
  Pump();
  return s;
}

raft::NodeStatus RaftDriver::status() const { return node_->status(); }

void RaftDriver::Stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_->timer.cancel();
  if (transport_) transport_->Stop();
}

}  // namespace pharos::registry
