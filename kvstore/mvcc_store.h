// MvccStore: the replicated key-value state machine with etcd's data model (DESIGN.md §4).
// A global revision, 1 in a new store as in etcd's, rises by one per write transaction; each key
// carries create_revision, mod_revision, version and lease; reads may ask for any revision not yet
// compacted. Values live in RocksDB keyed by revision; an in-memory index maps each key to its
// revisions and is rebuilt from RocksDB when the store opens.
//
// Column families (the caller opens the node's one RocksDB instance and passes the handles):
//   kv:       16-byte revision (main, sub; big-endian) [+ 't' for a deletion] -> KeyValue
//   kv_meta:  "applied" (Raft index), "revision", "compact" (compacted revision)
//   kv_lease: 8-byte lease id -> LeaseRecord
// Applying an entry writes its changes and the applied index in one atomic batch, with the WAL on
// and unsynced: the synced Raft log write that follows carries them to disk.
//
// Thread rules: not thread-safe. The apply thread owns it (reads go through that thread too).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "kvstore/key_index.h"
#include "kvstore/key_table.h"
#include "proto/pharos.pb.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatch;
}  // namespace rocksdb

namespace pharos::kv {

struct Families {
  rocksdb::ColumnFamilyHandle* kv = nullptr;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  rocksdb::ColumnFamilyHandle* lease = nullptr;
};

// Limits checked before anything changes.
inline constexpr size_t kMaxKeyBytes = 8 * 1024;
inline constexpr size_t kMaxTxnOps = 128;
// etcd's MaxLeaseTTL. A lease's expiry is counted in nanoseconds from the leader's clock: a TTL
// much beyond this overflows it, and the lease expires at once and takes its keys with it.
inline constexpr int64_t kMaxLeaseTtlSeconds = 9'000'000'000;
inline constexpr char kTooLargeLeaseTtl[] = "too large lease TTL (at most 9000000000 seconds)";

struct ApplyResult {
  // The request's own outcome: an error here (unknown lease, compacted revision, ...) is an
  // answer for the client; the state did not change and the revision did not move.
  Status status;
  pb::RaftResponse response;
  // Every event of the new revision, in order, each with its previous value; empty if the
  // revision did not move.
  std::vector<pb::Event> events;
  int64_t revision = 0;
};

// All events of one revision, as watchers receive them.
struct RevisionEvents {
  int64_t revision = 0;
  std::vector<pb::Event> events;
};

class MvccStore {
 public:
  static Result<std::unique_ptr<MvccStore>> Open(rocksdb::DB* db, Families families);
  ~MvccStore();  // out of line: rocksdb::WriteBatch is only declared here

  // Applies the committed entry at Raft index `index`. Fails (non-OK Result) only when storage
  // fails; the store must then be reopened.
  Result<ApplyResult> Apply(uint64_t index, const pb::RaftRequest& request);
  // An entry with no key-value effect (no-op, membership change): records the applied index.
  Status ApplyNoop(uint64_t index);
  // The applies that follow, up to CommitBatch(), go to RocksDB in one write: one WAL append
  // for a whole batch of committed entries instead of one per entry. Still atomic: after a crash
  // either every entry of the batch is there with the batch's applied index, or none is
  // (DESIGN.md §4). Until CommitBatch nothing of the batch is in RocksDB, so nothing but Apply
  // may run in between (the apply thread runs reads only between batches).
  void BeginBatch();
  Status CommitBatch();
  // Whether the events Apply returns carry previous values (a watcher asked for them). Off, a
  // put or delete reads the previous value only when its own request needs it: that read is a
  // RocksDB lookup per write, the largest part of applying a put. On by default.
  void set_prev_kv_in_events(bool on) { prev_kv_in_events_ = on; }

  // Range at req.revision() (0 or less: now, as etcd has it). COMPACTED below the compacted
  // revision, FUTURE_REVISION beyond the current one.
  Result<pb::RangeResponse> Range(const pb::RangeRequest& req) const;
  // The events of revisions [from, to] on keys in [key, range_end) (see RangeRequest), at most
  // `max_revisions` revisions. COMPACTED if `from` is at or below the compacted revision.
  Result<std::vector<RevisionEvents>> History(int64_t from, int64_t to, const std::string& key,
                                              const std::string& range_end,
                                              size_t max_revisions) const;

  // A hash of every stored revision up to `revision` (0: now), as etcd's HashKV: members with the
  // same compact revision must agree. COMPACTED below the compacted revision, FUTURE_REVISION
  // beyond the current one.
  Result<uint32_t> HashKV(int64_t revision) const;

  int64_t revision() const { return revision_; }
  int64_t compact_revision() const { return compact_revision_; }
  uint64_t applied_index() const { return applied_; }
  // Keys that exist now, and leases.
  size_t key_count() const { return live_keys_; }
  size_t lease_count() const { return leases_.size(); }

  // Leases, for the leader's lessor and for LeaseTimeToLive / LeaseLeases.
  std::vector<pb::LeaseRecord> Leases() const;
  std::optional<pb::LeaseRecord> Lease(int64_t id) const;
  std::vector<std::string> LeaseKeys(int64_t id) const;

  // Snapshot: a consistent copy of every column family, read while applies go on, in chunks of
  // about `chunk_bytes`; Restore replaces the whole state with one atomically.
  class SnapshotReader {
   public:
    virtual ~SnapshotReader() = default;
    // The next chunk, or nullopt at the end.
    virtual Result<std::optional<std::string>> Next() = 0;
  };
  std::unique_ptr<SnapshotReader> CreateSnapshot(size_t chunk_bytes = 1 << 20) const;
  // `also_write`: the caller's own writes (to column families of its own) that must reach the
  // disk in the same synced write as the restored state — tables the snapshot carried beside
  // the store's, which a crash right after the restore must not leave behind.
  Status Restore(const std::vector<std::string>& chunks,
                 const rocksdb::WriteBatch* also_write = nullptr);

  // A readable dump of everything (every stored revision, leases, meta), for tests comparing two
  // stores.
  std::string DebugDump() const;

 private:
  class WriteTxn;
  MvccStore(rocksdb::DB* db, Families families);
  Status Load();
  Result<pb::KeyValue> ReadRevision(Revision rev, bool tombstone) const;
  // Keys in the range that exist at revision `at`, in key order, with their revision.
  std::vector<std::pair<const std::string*, Revision>> KeysAt(const std::string& key,
                                                              const std::string& range_end,
                                                              int64_t at) const;
  Status CheckRequest(const pb::RaftRequest& request) const;
  Result<pb::RangeResponse> RangeAt(const pb::RangeRequest& req, int64_t current) const;
  static void SetHeaderRevision(pb::RaftResponse* r, int64_t revision);
  Status FinishWrite(rocksdb::WriteBatch* batch, uint64_t index, int64_t revision);
  Status WriteKv(rocksdb::WriteBatch* batch);

  rocksdb::DB* db_;
  Families cf_;
  KeyTable index_;
  struct LeaseState {
    int64_t ttl = 0;
    std::set<std::string> keys;
  };
  std::map<int64_t, LeaseState> leases_;
  int64_t revision_ = 1;
  int64_t compact_revision_ = 0;
  size_t live_keys_ = 0;
  uint64_t applied_ = 0;
  // While a write transaction runs: its values not yet in RocksDB.
  const std::map<Revision, pb::KeyValue>* pending_ = nullptr;
  // Between BeginBatch and CommitBatch: the batch, and the values put in it (what later entries
  // of the batch read back).
  std::unique_ptr<rocksdb::WriteBatch> open_batch_;
  bool prev_kv_in_events_ = true;
  std::map<Revision, pb::KeyValue> unwritten_;
};

// Whether `key` falls in the range [start, range_end) as RangeRequest defines it.
bool InRange(const std::string& key, const std::string& start, const std::string& range_end);

}  // namespace pharos::kv
