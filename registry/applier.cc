#include "registry/applier.h"

#include <pthread.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <string_view>

#include "common/metrics.h"
#include "raft/membership.h"
#include "registry/storage_engine.h"

namespace pharos::registry {
namespace {

const char* const kAlarmsKey = "alarms";
// A Raft snapshot's data is a few tagged sections, then the store's own snapshot (which starts
// with a column family number, never with a tag's letter). Each section is its tag, a 4-byte
// big-endian length and a message: the member table (a SnapshotMemberTable: the members, and the
// removed members, which a version before them reads as a MemberListResponse), then the alarm
// table (an AlarmResponse). A leader that predates a section sends data without it: from one older
// still, the data is the store's alone. Such data still restores; what it lacks is left as it is.
constexpr std::string_view kSnapshotMembers = "pharos-members/1";
constexpr std::string_view kSnapshotAlarms = "pharos-alarms/1";
// The removed members' last records (a MemberListResponse), beside the alarms: a version that
// predates it reads that family by key and starts on a directory that has it, where an extra key
// among the members would fail its start.
const char* const kRemovedMembersKey = "removed-members";
// A task that holds the apply thread this long extends every lease by as much (Loop). Shorter
// holds are within a keepalive's slack: clients renew at a third of the TTL.
constexpr std::chrono::milliseconds kLeasesExtendedAfterAHold{200};

void AppendSection(std::string* out, std::string_view tag,
                   const google::protobuf::MessageLite& message) {
  const std::string body = message.SerializeAsString();
  out->append(tag);
  const auto n = static_cast<uint32_t>(body.size());
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out->append(body);
}

// The section `tag` at the front of `data`, taken off it; nullopt if `data` does not start with
// it. A section that is there but cannot be read stops the node: restoring the rest would leave
// this member's tables different from the others'.
template <typename Message>
std::optional<Message> TakeSection(std::string_view* data, std::string_view tag) {
  if (!data->starts_with(tag) || data->size() < tag.size() + 4) return std::nullopt;
  data->remove_prefix(tag.size());
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<uint8_t>((*data)[i]);
  data->remove_prefix(4);
  Message message;
  if (n > data->size() || !message.ParseFromArray(data->data(), static_cast<int>(n))) {
    spdlog::critical("a snapshot's {} section is corrupt", tag);
    std::abort();
  }
  data->remove_prefix(n);
  return message;
}

std::string IdKey(uint64_t id) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i) {
    key[i] = static_cast<char>(id & 0xff);
    id >>= 8;
  }
  return key;
}

}  // namespace

Applier::Applier(StorageEngine& storage, uint64_t member_id, Post post, Callbacks callbacks,
                 const Clock* clock)
    : storage_(storage),
      member_id_(member_id),
      post_(std::move(post)),
      callbacks_(std::move(callbacks)),
      clock_(clock) {}

Applier::~Applier() { Stop(); }

Status Applier::Start() {
  auto store = kv::MvccStore::Open(storage_.db(), storage_.kv_families());
  if (!store.ok()) return store.status();
  store_ = std::move(*store);
  hub_ = std::make_unique<kv::WatchHub>(store_.get(), kv::WatchHub::Options{}, [this](int64_t id) {
    if (callbacks_.watch_ready) {
      post_([cb = callbacks_.watch_ready, id] { cb(id); });
    }
  });
  lessor_ = std::make_unique<kv::Lessor>(clock_);
  for (const pb::LeaseRecord& r : store_->Leases()) lessor_->OnGrant(r.id(), r.ttl());
  std::unique_ptr<rocksdb::Iterator> it(
      storage_.db()->NewIterator(rocksdb::ReadOptions(), storage_.members()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    pb::Member m;
    if (!m.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Status::Corruption("member record");
    }
    members_[m.id()] = m;
  }
  if (!it->status().ok()) {
    return Status::IoError("reading the member table: " + it->status().ToString());
  }
  // A record that cannot be read stops the start: taken for absent, the next change would write
  // over it.
  auto read_record = [&](const char* key, std::string* record) -> Result<bool> {
    const rocksdb::Status s =
        storage_.db()->Get(rocksdb::ReadOptions(), storage_.alarms(), key, record);
    if (s.IsNotFound()) return false;
    if (!s.ok()) return Status::IoError(std::string("reading ") + key + ": " + s.ToString());
    return true;
  };
  std::string record;
  auto found = read_record(kRemovedMembersKey, &record);
  if (!found.ok()) return found.status();
  if (*found) {
    pb::MemberListResponse removed;
    if (!removed.ParseFromString(record)) return Status::Corruption("removed member records");
    for (const pb::Member& m : removed.members()) removed_members_[m.id()] = m;
  }
  found = read_record(kAlarmsKey, &record);
  if (!found.ok()) return found.status();
  if (*found) {
    pb::AlarmResponse saved;
    if (!saved.ParseFromString(record)) return Status::Corruption("alarm record");
    for (const pb::AlarmMember& a : saved.alarms()) alarms_.emplace(a.member_id(), a.alarm());
  }
  applied_ = store_->applied_index();
  revision_ = store_->revision();
  compact_revision_ = store_->compact_revision();
  keys_ = store_->key_count();
  leases_ = store_->lease_count();
  PublishAlarms();
  PublishMembers();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "pharos-apply");  // for top -H and perf
    Loop();
  });
  return Status::Ok();
}

void Applier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Applier::Apply(std::optional<raftpb::Snapshot> snapshot, std::vector<raftpb::Entry> entries) {
  Enqueue([this, snapshot = std::move(snapshot), entries = std::move(entries)] {
    ApplyNow(snapshot, entries);
  });
}

void Applier::RunAt(uint64_t min_index, Task task) {
  Enqueue([this, min_index, task = std::move(task)]() mutable {
    waiting_.emplace(min_index, std::move(task));
    RunWaiting();
  });
}

void Applier::Enqueue(std::function<void()> work) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(work));
  }
  // After unlocking: woken under the lock, the apply thread would block on it at once and need
  // a second wake-up (two context switches more per batch, measured with perf sched).
  cv_.notify_one();
}

void Applier::Loop() {
  for (;;) {
    std::function<void()> work;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    const Clock::TimePoint started = clock_->Now();
    work();
    // Keepalives are served on this thread: while one task held it (a defragmentation, a hash
    // of the whole store, an apply on a stalled disk), no lease could be renewed, and a lease
    // whose keepalive waited behind it would have expired for that alone.
    const auto held = clock_->Now() - started;
    if (held >= kLeasesExtendedAfterAHold) lessor_->Extend(held);
  }
}

void Applier::RunWaiting() {
  const uint64_t applied = store_->applied_index();
  while (!waiting_.empty() && waiting_.begin()->first <= applied) {
    Task task = std::move(waiting_.begin()->second);
    waiting_.erase(waiting_.begin());
    task(*store_, *hub_, *lessor_);
  }
}

void Applier::ApplyNow(const std::optional<raftpb::Snapshot>& snapshot,
                       const std::vector<raftpb::Entry>& entries) {
  static Histogram& apply_latency = Metrics::Global().histogram(
      "pharos_kv_apply_duration_seconds", "Time to apply one batch of committed entries");
  const auto started = std::chrono::steady_clock::now();
  struct Observe {
    Histogram& h;
    std::chrono::steady_clock::time_point t0;
    ~Observe() {
      h.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  } observe{apply_latency, started};
  if (snapshot && !snapshot->data().empty()) Restore(*snapshot);
  // One RocksDB write for the whole batch (MvccStore::BeginBatch); reads and snapshots run on
  // this thread only between batches.
  store_->set_prev_kv_in_events(hub_->AnyWantsPrevKv());
  store_->BeginBatch();
  for (const raftpb::Entry& e : entries) {
    if (e.index() <= store_->applied_index()) continue;  // already applied before a restart
    ApplyEntry(e);
  }
  revision_ = store_->revision();
  compact_revision_ = store_->compact_revision();
  keys_ = store_->key_count();
  leases_ = store_->lease_count();
  watchers_ = hub_->watcher_count();
  // The answers leave before the batch is written. They are true already: the entries are
  // committed in the Raft log, which a restart replays (a failed write aborts the node), and
  // nothing reads the store but this thread, after the write. The write would otherwise add its
  // time to every request, and more when it queues behind the log's fsync in RocksDB's writer.
  // One hand-over to the server thread per batch, not one per entry: each wakes that thread.
  if (!answers_.empty() && callbacks_.applied) {
    post_([answered = callbacks_.applied, answers = std::move(answers_)]() mutable {
      for (AppliedRequest& a : answers) answered(std::move(a));
    });
  }
  answers_.clear();
  if (Status s = store_->CommitBatch(); !s.ok()) {
    spdlog::critical("applying entries up to {} failed: {}", store_->applied_index(), s.ToString());
    std::abort();
  }
  // Published once written: the raft thread compacts the log up to it (RaftDriverOptions).
  applied_ = store_->applied_index();
  RunWaiting();
}

std::string Applier::SnapshotPrefix() const {
  pb::SnapshotMemberTable members;
  for (const auto& [id, m] : members_) *members.add_members() = m;
  for (const auto& [id, m] : removed_members_) *members.add_removed() = m;
  std::string out;
  AppendSection(&out, kSnapshotMembers, members);
  AppendSection(&out, kSnapshotAlarms, ActiveAlarms());
  return out;
}

void Applier::Restore(const raftpb::Snapshot& snapshot) {
  std::string_view data = snapshot.data();
  const auto members = TakeSection<pb::SnapshotMemberTable>(&data, kSnapshotMembers);
  const auto alarms = TakeSection<pb::AlarmResponse>(&data, kSnapshotAlarms);
  // A removal is for good: the snapshot's removed members join ours (a leader older than the
  // list sends none).
  std::map<uint64_t, pb::Member> removed = removed_members_;
  if (members) {
    for (const pb::Member& m : members->removed()) removed[m.id()] = m;
  }
  // The tables the snapshot carried replace ours in the same synced write as the store's state:
  // written after it, a crash in between would keep our old tables beside the new state for
  // good (the log below the snapshot, which could rebuild them, is gone).
  rocksdb::WriteBatch tables;
  if (members) {
    std::unique_ptr<rocksdb::Iterator> it(
        storage_.db()->NewIterator(rocksdb::ReadOptions(), storage_.members()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) tables.Delete(storage_.members(), it->key());
    if (!it->status().ok()) {
      spdlog::critical("reading the member table failed: {}", it->status().ToString());
      std::abort();
    }
    for (const pb::Member& m : members->members()) {
      tables.Put(storage_.members(), IdKey(m.id()), m.SerializeAsString());
    }
    tables.Put(storage_.alarms(), kRemovedMembersKey, RemovedMembers(removed).SerializeAsString());
  }
  if (alarms) tables.Put(storage_.alarms(), kAlarmsKey, alarms->SerializeAsString());
  if (Status s = store_->Restore({std::string(data)}, &tables); !s.ok()) {
    spdlog::critical("restoring a snapshot failed: {}", s.ToString());
    std::abort();
  }
  if (members) {
    members_.clear();
    for (const pb::Member& m : members->members()) members_[m.id()] = m;
    removed_members_ = std::move(removed);
    PublishMembers();
  }
  if (alarms) {
    alarms_.clear();
    for (const pb::AlarmMember& a : alarms->alarms()) alarms_.emplace(a.member_id(), a.alarm());
    PublishAlarms();
  }
  hub_->OnRestore();
  spdlog::info("restored a snapshot at raft index {} (kv revision {})", snapshot.metadata().index(),
               store_->revision());
}

void Applier::PublishMembers() {
  if (callbacks_.removed_members) {
    std::vector<pb::Member> removed;
    for (const auto& [id, m] : removed_members_) removed.push_back(m);
    post_([cb = callbacks_.removed_members, removed = std::move(removed)] { cb(removed); });
  }
  if (!callbacks_.members) return;
  std::vector<pb::Member> list;
  for (const auto& [id, m] : members_) list.push_back(m);
  post_([cb = callbacks_.members, list = std::move(list)] { cb(list); });
}

pb::MemberListResponse Applier::RemovedMembers(const std::map<uint64_t, pb::Member>& removed) {
  pb::MemberListResponse list;
  for (const auto& [id, m] : removed) *list.add_members() = m;
  return list;
}

void Applier::ApplyEntry(const raftpb::Entry& e) {
  auto noop = [&] {
    if (Status s = store_->ApplyNoop(e.index()); !s.ok()) {
      spdlog::critical("applying entry {} failed: {}", e.index(), s.ToString());
      std::abort();
    }
  };
  auto save_members = [&] {
    rocksdb::WriteOptions wo;
    for (const auto& [id, m] : members_) {
      (void)storage_.db()->Put(wo, storage_.members(), IdKey(id), m.SerializeAsString());
    }
    PublishMembers();
  };
  if (e.type() == raftpb::ENTRY_CONF_CHANGE) {
    raftpb::ConfChange cc;
    if (cc.ParseFromString(e.data())) {
      pb::Member& m = members_[cc.node_id()];
      pb::Member from_context;
      if (!cc.context().empty() && from_context.ParseFromString(cc.context())) m = from_context;
      m.set_id(cc.node_id());
      switch (cc.type()) {
        case raftpb::CONF_ADD_VOTER:
          m.set_is_learner(false);
          break;
        case raftpb::CONF_ADD_LEARNER:
          m.set_is_learner(true);
          break;
        case raftpb::CONF_PROMOTE_LEARNER:
          m.set_is_learner(false);
          break;
        case raftpb::CONF_REMOVE_NODE:
          // Kept aside with its address: if it comes back unaware of its removal (it was down,
          // and every member has restarted since), the answer that tells it needs somewhere
          // to go. Applied again after a crash, the entry finds the member gone and keeps what
          // was set aside.
          if (!m.peer_urls().empty()) removed_members_[cc.node_id()] = m;
          members_.erase(cc.node_id());
          {
            // One write, so that no crash keeps the deletion without the record set aside.
            rocksdb::WriteBatch removal;
            removal.Delete(storage_.members(), IdKey(cc.node_id()));
            removal.Put(storage_.alarms(), kRemovedMembersKey,
                        RemovedMembers(removed_members_).SerializeAsString());
            if (rocksdb::Status s = storage_.db()->Write(rocksdb::WriteOptions(), &removal);
                !s.ok()) {
              spdlog::critical("writing member {:x}'s removal failed: {}", cc.node_id(),
                               s.ToString());
              std::abort();
            }
          }
          break;
        default:
          break;
      }
      save_members();
    }
    noop();
    return;
  }
  if (e.data().empty()) {
    noop();
    return;
  }
  pb::RaftRequest req;
  if (!req.ParseFromString(e.data())) {
    spdlog::error("entry {} holds no request; skipped", e.index());
    noop();
    return;
  }
  if (req.has_member_publish()) {
    const pb::Member& pub = req.member_publish();
    auto it = members_.find(pub.id());
    if (it != members_.end()) {  // a removed member's late publication is ignored
      const bool learner = it->second.is_learner();
      it->second = pub;
      it->second.set_is_learner(learner);
      save_members();
    }
    noop();
    return;
  }
  if (req.has_alarm()) {
    AppliedRequest a{req.id(), e.index(), e.term(), Status::Ok(), {}, store_->revision()};
    *a.response.mutable_alarm() = ApplyAlarm(req.alarm());
    noop();
    if (Ours(req)) answers_.push_back(std::move(a));
    return;
  }
  auto result = store_->Apply(e.index(), req);
  if (!result.ok()) {
    spdlog::critical("applying entry {} failed: {}", e.index(), result.status().ToString());
    std::abort();
  }
  if (!result->events.empty()) hub_->OnApply(result->revision, result->events);
  if (!req.trace_id().empty()) {
    spdlog::debug("applied entry {} term {} at revision {}: {} trace={}", e.index(), e.term(),
                  result->revision, result->status.ok() ? "OK" : result->status.ToString(),
                  req.trace_id());
  }
  if (result->status.ok()) {
    if (req.has_lease_grant()) {
      lessor_->OnGrant(result->response.lease_grant().id(), result->response.lease_grant().ttl());
    } else if (req.has_lease_revoke()) {
      lessor_->OnRevoke(req.lease_revoke().id());
    }
  }
  if (!Ours(req)) return;
  answers_.push_back(AppliedRequest{req.id(), e.index(), e.term(), result->status,
                                    std::move(result->response), result->revision});
}

bool Applier::Ours(const pb::RaftRequest& req) const {
  // On the other members nobody waits for it: handing it to their I/O threads woke each of them
  // once per applied batch for nothing.
  return req.proposer() == 0 || req.proposer() == member_id_;
}

pb::AlarmResponse Applier::ApplyAlarm(const pb::AlarmRequest& request) {
  const std::pair<uint64_t, int> alarm{request.member_id(), request.alarm()};
  if (request.action() == pb::AlarmRequest::ACTIVATE && request.alarm() != pb::ALARM_NONE) {
    if (alarms_.insert(alarm).second) {
      spdlog::warn("alarm {} raised for member {:x}", pb::AlarmType_Name(request.alarm()),
                   request.member_id());
    }
  } else if (request.action() == pb::AlarmRequest::DEACTIVATE) {
    const bool all = request.member_id() == 0 && request.alarm() == pb::ALARM_NONE;
    for (auto it = alarms_.begin(); it != alarms_.end();) {
      if (all || *it == alarm) {
        spdlog::info("alarm {} cleared for member {:x}",
                     pb::AlarmType_Name(static_cast<pb::AlarmType>(it->second)), it->first);
        it = alarms_.erase(it);
      } else {
        ++it;
      }
    }
  }
  pb::AlarmResponse active = ActiveAlarms();
  // Applying the same alarm entry again after a crash gives the same set, so this write need not
  // be atomic with the applied index.
  if (rocksdb::Status s = storage_.db()->Put(rocksdb::WriteOptions(), storage_.alarms(), kAlarmsKey,
                                             active.SerializeAsString());
      !s.ok()) {
    spdlog::critical("saving the alarms failed: {}", s.ToString());
    std::abort();
  }
  PublishAlarms();
  return active;
}

pb::AlarmResponse Applier::ActiveAlarms() const {
  pb::AlarmResponse active;
  for (const auto& [member, type] : alarms_) {
    pb::AlarmMember* a = active.add_alarms();
    a->set_member_id(member);
    a->set_alarm(static_cast<pb::AlarmType>(type));
  }
  return active;
}

void Applier::PublishAlarms() {
  if (!callbacks_.alarms) return;
  std::vector<pb::AlarmMember> list;
  for (const auto& [member, type] : alarms_) {
    pb::AlarmMember a;
    a.set_member_id(member);
    a.set_alarm(static_cast<pb::AlarmType>(type));
    list.push_back(std::move(a));
  }
  post_([cb = callbacks_.alarms, list = std::move(list)] { cb(list); });
}

}  // namespace pharos::registry
