// LogStore: the Raft log and hard state on RocksDB, implementing raft::Storage for the core.
// Column families (opened by the caller, who owns the one RocksDB instance of the node):
//   raft_log:  8-byte big-endian index -> Entry
//   raft_meta: "hard_state" -> HardState, "snapshot" -> SnapshotMetadata,
//              "received_snapshot" -> Snapshot (metadata and data; while it is being restored)
// Every write that must be durable is synced. Writes go through one writer thread with group
// commit: whatever is submitted while an fsync is in flight goes into the next batch, so throughput
// rises with the number of concurrent appenders instead of being capped at one append per fsync.
// No caller ever waits on the disk unless it asks to (WriteSync, Compact): a raft thread that
// waited could not answer heartbeats while the disk stalls, and its leader would be deposed.
//
// Thread rules: Submit/WriteSync/Compact from any thread; the Storage read methods from any
// thread (the core's). A write is visible to readers once its completion callback runs.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "raft/storage.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace pharos::raft {

class LogStore : public Storage {
 public:
  // One durable update of the log, as a Ready asks for it.
  struct Write {
    std::optional<raftpb::HardState> hard_state;
    // Appended at entries.front().index(), replacing any suffix from there on.
    std::vector<raftpb::Entry> entries;
    // A snapshot received from the leader: the log becomes exactly this snapshot point.
    std::optional<raftpb::SnapshotMetadata> snapshot;
    // Its data, kept beside it (ReceivedSnapshot) until the application says it has restored it
    // (ForgetReceivedSnapshot). The log forgets everything below the snapshot in this write: a
    // crash before the application's restore would otherwise leave a log that starts past a state
    // machine that never got the data, and the entries in between would be lost to it for good.
    std::optional<std::string> snapshot_data;
    // Whether the write must reach the disk before it is acknowledged. Only a hard state whose
    // commit index alone changed may skip the fsync (Ready::must_sync); the next synced write
    // carries it along.
    bool sync = true;
  };
  struct Stats {
    uint64_t writes = 0;   // Write requests completed
    uint64_t batches = 0;  // fsyncs done for them
  };

  // Reads the log's bounds and hard state. `bootstrap` (the initial members, for a new cluster)
  // is written as the first entries when the log is empty.
  static Result<std::unique_ptr<LogStore>> Open(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log,
                                                rocksdb::ColumnFamilyHandle* meta,
                                                const std::vector<uint64_t>& bootstrap = {});
  ~LogStore() override;

  Result<InitialState> GetInitialState() const override;
  Result<std::vector<raftpb::Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const override;
  Result<uint64_t> Term(uint64_t i) const override;
  uint64_t FirstIndex() const override;
  uint64_t LastIndex() const override;
  Result<raftpb::Snapshot> GetSnapshot() const override;

  // Queues a write; `done` runs on the writer thread once it is durable (or failed).
  void Submit(Write write, std::function<void(Status)> done);
  // Submit and wait.
  Status WriteSync(Write write);
  // Records that the application's state is snapshotted at `meta.index()` (which must be in the
  // log) and deletes the log entries up to it. The state at that index must be durable first:
  // when the key-value store shares this RocksDB instance (as in pharosd), this write's own WAL
  // sync makes every earlier (unsynced) key-value write durable before the entries go.
  Status Compact(const raftpb::SnapshotMetadata& meta);
  // The same without waiting: `done` runs on the writer thread.
  void CompactAsync(const raftpb::SnapshotMetadata& meta, std::function<void(Status)> done);
  // The last snapshot received with its data (Write::snapshot_data), if its data is still kept:
  // for a restart to restore what a crash kept the application from restoring.
  Result<std::optional<raftpb::Snapshot>> ReceivedSnapshot() const;
  // The application's state at the received snapshot at `index` is durable: its data can go.
  // Queued, not synced: data kept after a restore is only space (a later compaction drops it too).
  void ForgetReceivedSnapshot(uint64_t index);
  Stats stats() const;

 private:
  struct Pending {
    Write write;
    std::optional<raftpb::SnapshotMetadata> compact;
    std::function<void(Status)> done;
    uint64_t forget_received = 0;  // ForgetReceivedSnapshot's index
  };

  LogStore(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log, rocksdb::ColumnFamilyHandle* meta);
  Status Load(const std::vector<uint64_t>& bootstrap);
  void WriterLoop();
  Status WriteBatchOf(std::vector<Pending>& batch);
  // With mu_ held, as the two below: copies [lo, hi) from the recent entries into `out` if
  // they hold all of it.
  bool CopyRecent(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                  std::vector<raftpb::Entry>* out) const;
  // Forget the recent entries from `index` on, or up to and including it.
  void ForgetRecentFrom(uint64_t index);
  void ForgetRecentThrough(uint64_t index);
  void Enqueue(Pending p);

  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* log_cf_;
  rocksdb::ColumnFamilyHandle* meta_cf_;

  mutable std::mutex mu_;  // guards the in-memory view below
  raftpb::HardState hard_state_;
  raftpb::SnapshotMetadata snapshot_;
  // terms_[i - snapshot_.index()] is the term of entry i, for i in [snapshot index, last index].
  std::deque<uint64_t> terms_;
  // The newest entries written, up to kRecentBytes of them: a run of the log that ends at its
  // last index, or nothing. Entries are read back soon after they are written (the core hands
  // committed entries to the application; a leader sends a follower what it lacks), and from
  // here such a read costs a copy instead of an iterator, a memtable seek and a parse each.
  struct RecentEntry {
    raftpb::Entry entry;
    uint64_t bytes;  // serialized, as Entries' max_bytes counts them
  };
  std::deque<RecentEntry> recent_;
  uint64_t recent_bytes_ = 0;
  // The index of the received snapshot whose data is kept (0: none). Load and the writer thread.
  uint64_t received_index_ = 0;

  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<Pending> queue_;
  bool stopping_ = false;
  Stats stats_;
  std::thread writer_;
};

}  // namespace pharos::raft
