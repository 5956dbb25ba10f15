#include "raft/log_store.h"

#include <pthread.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <chrono>
#include <future>
#include <limits>
#include <string>

#include "common/metrics.h"
#include "raft/membership.h"

namespace pharos::raft {
namespace {

// About 700 entries of a 256-byte put: several times what is in flight between an append and
// its entries being applied, under 64 writers.
constexpr uint64_t kRecentBytes = 256 * 1024;

constexpr char kHardStateKey[] = "hard_state";
constexpr char kSnapshotKey[] = "snapshot";
constexpr char kReceivedSnapshotKey[] = "received_snapshot";

std::string IndexKey(uint64_t index) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i) {
    key[i] = static_cast<char>(index & 0xff);
    index >>= 8;
  }
  return key;
}

uint64_t KeyIndex(const rocksdb::Slice& key) {
  uint64_t index = 0;
  for (size_t i = 0; i < 8 && i < key.size(); ++i) {
    index = (index << 8) | static_cast<unsigned char>(key[i]);
  }
  return index;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  return Status::IoError(what + ": " + s.ToString());
}

}  // namespace

LogStore::LogStore(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log,
                   rocksdb::ColumnFamilyHandle* meta)
    : db_(db), log_cf_(log), meta_cf_(meta) {}

Result<std::unique_ptr<LogStore>> LogStore::Open(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log,
                                                 rocksdb::ColumnFamilyHandle* meta,
                                                 const std::vector<uint64_t>& bootstrap) {
  std::unique_ptr<LogStore> store(new LogStore(db, log, meta));
  if (Status s = store->Load(bootstrap); !s.ok()) return s;
  store->writer_ = std::thread([raw = store.get()] {
    pthread_setname_np(pthread_self(), "pharos-log");  // for top -H and perf
    raw->WriterLoop();
  });
  return store;
}

LogStore::~LogStore() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

Status LogStore::Load(const std::vector<uint64_t>& bootstrap) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_cf_, kHardStateKey, &value);
  if (s.ok()) {
    if (!hard_state_.ParseFromString(value)) return Status::Corruption("raft hard state");
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading raft hard state");
  }
  s = db_->Get(rocksdb::ReadOptions(), meta_cf_, kSnapshotKey, &value);
  if (s.ok()) {
    if (!snapshot_.ParseFromString(value)) return Status::Corruption("raft snapshot metadata");
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading raft snapshot metadata");
  }
  terms_.assign(1, snapshot_.term());
  auto received = ReceivedSnapshot();
  if (!received.ok()) return received.status();
  if (*received) received_index_ = (*received)->metadata().index();

  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_cf_));
  uint64_t expect = snapshot_.index() + 1;
  for (it->Seek(IndexKey(expect)); it->Valid(); it->Next()) {
    const uint64_t index = KeyIndex(it->key());
    if (index != expect) {
      return Status::Corruption("raft log has a gap: expected index " + std::to_string(expect) +
                                ", found " + std::to_string(index));
    }
    raftpb::Entry e;
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) ||
        e.index() != index) {
      return Status::Corruption("raft log entry " + std::to_string(index) + " is unreadable");
    }
    terms_.push_back(e.term());
    ++expect;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scanning the raft log");
  if (hard_state_.commit() > LastIndex()) {
    return Status::Corruption("raft commit index " + std::to_string(hard_state_.commit()) +
                              " is beyond the last log index " + std::to_string(LastIndex()));
  }

  if (LastIndex() == 0 && !bootstrap.empty()) {
    Write w;
    w.entries = BootstrapEntries(bootstrap);
    raftpb::HardState hs;
    hs.set_term(1);
    hs.set_commit(w.entries.size());
    w.hard_state = hs;
    std::vector<Pending> batch;
    batch.push_back({std::move(w), std::nullopt, nullptr});
    return WriteBatchOf(batch);
  }
  return Status::Ok();
}

Result<InitialState> LogStore::GetInitialState() const {
  std::lock_guard<std::mutex> lock(mu_);
  return InitialState{hard_state_, snapshot_.conf_state()};
}

Result<std::vector<raftpb::Entry>> LogStore::Entries(uint64_t lo, uint64_t hi,
                                                     uint64_t max_bytes) const {
  std::vector<raftpb::Entry> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t last = snapshot_.index() + terms_.size() - 1;
    if (lo <= snapshot_.index()) {
      return Status::Compacted("raft log compacted below " + std::to_string(lo));
    }
    if (hi > last + 1) {
      return Status::Unavailable("raft log entries up to " + std::to_string(hi) + " not written");
    }
    if (lo >= hi) return out;
    if (CopyRecent(lo, hi, max_bytes, &out)) return out;
  }
  rocksdb::ReadOptions ro;
  const std::string upper = IndexKey(hi);
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, log_cf_));
  uint64_t bytes = 0;
  uint64_t expect = lo;
  for (it->Seek(IndexKey(lo)); it->Valid(); it->Next()) {
    raftpb::Entry e;
    if (KeyIndex(it->key()) != expect ||
        !e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Status::Corruption("raft log entry " + std::to_string(expect) + " is unreadable");
    }
    bytes += it->value().size();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(std::move(e));
    ++expect;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading the raft log");
  if (out.empty()) return Status::Compacted("raft log entries at " + std::to_string(lo) + " gone");
  return out;
}

bool LogStore::CopyRecent(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                          std::vector<raftpb::Entry>* out) const {
  if (recent_.empty()) return false;
  const uint64_t first = recent_.front().entry.index();
  if (lo < first || hi > recent_.back().entry.index() + 1) return false;
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const RecentEntry& r = recent_[i - first];
    bytes += r.bytes;
    if (!out->empty() && bytes > max_bytes) break;
    out->push_back(r.entry);
  }
  return true;
}

void LogStore::ForgetRecentFrom(uint64_t index) {
  while (!recent_.empty() && recent_.back().entry.index() >= index) {
    recent_bytes_ -= recent_.back().bytes;
    recent_.pop_back();
  }
}

void LogStore::ForgetRecentThrough(uint64_t index) {
  while (!recent_.empty() && recent_.front().entry.index() <= index) {
    recent_bytes_ -= recent_.front().bytes;
    recent_.pop_front();
  }
}

Result<uint64_t> LogStore::Term(uint64_t i) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (i < snapshot_.index()) return Status::Compacted("term of compacted index");
  if (i - snapshot_.index() >= terms_.size()) return Status::Unavailable("term beyond the log");
  return terms_[i - snapshot_.index()];
}

uint64_t LogStore::FirstIndex() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_.index() + 1;
}

uint64_t LogStore::LastIndex() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_.index() + terms_.size() - 1;
}

Result<raftpb::Snapshot> LogStore::GetSnapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  raftpb::Snapshot snap;
  *snap.mutable_metadata() = snapshot_;
  return snap;
}

void LogStore::Enqueue(Pending p) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    queue_.push_back(std::move(p));
  }
  queue_cv_.notify_one();
}

void LogStore::Submit(Write write, std::function<void(Status)> done) {
  Enqueue({std::move(write), std::nullopt, std::move(done)});
}

Status LogStore::WriteSync(Write write) {
  std::promise<Status> result;
  Submit(std::move(write), [&result](Status s) { result.set_value(std::move(s)); });
  return result.get_future().get();
}

Status LogStore::Compact(const raftpb::SnapshotMetadata& meta) {
  std::promise<Status> result;
  Enqueue({Write(), meta, [&result](Status s) { result.set_value(std::move(s)); }});
  return result.get_future().get();
}

void LogStore::CompactAsync(const raftpb::SnapshotMetadata& meta,
                            std::function<void(Status)> done) {
  Enqueue({Write(), meta, std::move(done)});
}

Result<std::optional<raftpb::Snapshot>> LogStore::ReceivedSnapshot() const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_cf_, kReceivedSnapshotKey, &value);
  if (s.IsNotFound()) return std::optional<raftpb::Snapshot>();
  if (!s.ok()) return FromRocks(s, "reading the received snapshot");
  raftpb::Snapshot snap;
  if (!snap.ParseFromString(value)) return Status::Corruption("raft received snapshot");
  return std::optional<raftpb::Snapshot>(std::move(snap));
}

void LogStore::ForgetReceivedSnapshot(uint64_t index) {
  Pending p{Write(), std::nullopt, nullptr, index};
  p.write.sync = false;
  Enqueue(std::move(p));
}

LogStore::Stats LogStore::stats() const {
  std::lock_guard<std::mutex> lock(queue_mu_);
  return stats_;
}

void LogStore::WriterLoop() {
  for (;;) {
    std::vector<Pending> batch;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      // Group commit: everything queued while the previous fsync ran goes into this one.
      batch.swap(queue_);
    }
    Status s = WriteBatchOf(batch);
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      stats_.writes += batch.size();
      stats_.batches += 1;
    }
    for (Pending& p : batch) {
      if (p.done) p.done(s);
    }
  }
}

Status LogStore::WriteBatchOf(std::vector<Pending>& batch) {
  // Only this thread changes the log, so it can plan against the current view without a lock:
  // the plan is the RocksDB batch plus the edits to apply to the in-memory view after the fsync.
  raftpb::HardState hard_state = hard_state_;
  raftpb::SnapshotMetadata snapshot = snapshot_;
  uint64_t last = snapshot_.index() + terms_.size() - 1;
  struct TermsEdit {
    enum { kReset, kTruncate, kPush, kDropFront } op;
    uint64_t value;
    // For the recent entries: the first index dropped (kTruncate), the last one (kDropFront), or
    // the entry appended and its size (kPush; it is moved out of the batch once written).
    uint64_t index = 0;
    raftpb::Entry* entry = nullptr;
    uint64_t bytes = 0;
  };
  std::vector<TermsEdit> edits;
  uint64_t received = received_index_;
  rocksdb::WriteBatch wb;
  for (Pending& p : batch) {
    Write& w = p.write;
    if (w.snapshot) {
      wb.DeleteRange(log_cf_, IndexKey(0), IndexKey(std::numeric_limits<uint64_t>::max()));
      snapshot = *w.snapshot;
      last = snapshot.index();
      edits.push_back({TermsEdit::kReset, snapshot.term()});
      wb.Put(meta_cf_, kSnapshotKey, snapshot.SerializeAsString());
      if (w.snapshot_data) {
        raftpb::Snapshot kept;
        *kept.mutable_metadata() = snapshot;
        kept.set_data(std::move(*w.snapshot_data));
        wb.Put(meta_cf_, kReceivedSnapshotKey, kept.SerializeAsString());
        received = snapshot.index();
      } else if (received != 0) {
        // A snapshot point made here (snapshot-restore) supersedes any received one.
        wb.Delete(meta_cf_, kReceivedSnapshotKey);
        received = 0;
      }
    }
    if (p.forget_received != 0 && p.forget_received == received) {
      wb.Delete(meta_cf_, kReceivedSnapshotKey);
      received = 0;
    }
    if (!w.entries.empty()) {
      const uint64_t first = w.entries.front().index();
      if (first > last + 1) {
        return Status::InvalidArgument("raft log append at " + std::to_string(first) +
                                       " leaves a gap after " + std::to_string(last));
      }
      const uint64_t keep_from = std::max(first, snapshot.index() + 1);
      if (keep_from <= last) {
        // Replace the suffix from `first` on.
        wb.DeleteRange(log_cf_, IndexKey(keep_from), IndexKey(last + 1));
        edits.push_back({TermsEdit::kTruncate, keep_from - snapshot.index(), keep_from});
        last = keep_from - 1;
      }
      for (raftpb::Entry& e : w.entries) {
        if (e.index() <= snapshot.index()) continue;
        const std::string value = e.SerializeAsString();
        wb.Put(log_cf_, IndexKey(e.index()), value);
        edits.push_back({TermsEdit::kPush, e.term(), e.index(), &e, value.size()});
        last = e.index();
      }
    }
    if (w.hard_state) {
      hard_state = *w.hard_state;
      wb.Put(meta_cf_, kHardStateKey, hard_state.SerializeAsString());
    }
    if (p.compact && p.compact->index() > snapshot.index()) {
      const raftpb::SnapshotMetadata& meta = *p.compact;
      if (meta.index() > last) return Status::InvalidArgument("cannot compact beyond the log");
      wb.DeleteRange(log_cf_, IndexKey(0), IndexKey(meta.index() + 1));
      edits.push_back({TermsEdit::kDropFront, meta.index() - snapshot.index(), meta.index()});
      snapshot = meta;
      wb.Put(meta_cf_, kSnapshotKey, snapshot.SerializeAsString());
      if (received != 0) {
        // The application's state is durable at a later index than the received snapshot's.
        wb.Delete(meta_cf_, kReceivedSnapshotKey);
        received = 0;
      }
    }
  }
  bool sync = false, compacts = false;
  for (const Pending& p : batch) {
    sync |= p.write.sync;
    compacts |= p.compact.has_value();
  }
  // An append is written unsynced and then made durable with SyncWAL, which fsyncs without
  // holding RocksDB's write queue: the apply thread's KV writes (same WAL) go on during our
  // fsync instead of queueing behind it. The entries are visible before they are durable, but
  // nothing takes them as stable before this returns. A compaction keeps sync=true: its deletes
  // must not be visible before they are durable (readers still go by the old first index until
  // then), and the sync carries the KV writes below it to disk first (DESIGN.md §4).
  rocksdb::WriteOptions wo;
  wo.sync = compacts;
  const auto started = std::chrono::steady_clock::now();
  if (Status s = FromRocks(db_->Write(wo, &wb), "writing the raft log"); !s.ok()) return s;
  if (sync && !compacts) {
    if (Status s = FromRocks(db_->SyncWAL(), "syncing the raft log"); !s.ok()) return s;
  }
  if (sync || compacts) {
    static Histogram& fsync = Metrics::Global().histogram(
        "pharos_disk_fsync_duration_seconds", "Latency of the Raft log's synced writes");
    fsync.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const TermsEdit& e : edits) {
    switch (e.op) {
      case TermsEdit::kReset:
        terms_.assign(1, e.value);
        recent_.clear();
        recent_bytes_ = 0;
        break;
      case TermsEdit::kTruncate:
        terms_.resize(e.value);
        ForgetRecentFrom(e.index);
        break;
      case TermsEdit::kPush:
        terms_.push_back(e.value);
        // The entry follows the last one (the plan above refused gaps and cut conflicting
        // suffixes), so the run stays unbroken; the check only guards that reasoning.
        if (!recent_.empty() && recent_.back().entry.index() + 1 != e.index) {
          recent_.clear();
          recent_bytes_ = 0;
        }
        recent_bytes_ += e.bytes;
        recent_.push_back({std::move(*e.entry), e.bytes});
        break;
      case TermsEdit::kDropFront:
        terms_.erase(terms_.begin(), terms_.begin() + e.value);
        ForgetRecentThrough(e.index);
        break;
    }
  }
  while (recent_bytes_ > kRecentBytes) {
    recent_bytes_ -= recent_.front().bytes;
    recent_.pop_front();
  }
  hard_state_ = std::move(hard_state);
  snapshot_ = std::move(snapshot);
  received_index_ = received;
  return Status::Ok();
}

}  // namespace pharos::raft
