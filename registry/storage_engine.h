// StorageEngine: the node's one RocksDB instance (DESIGN.md §4). It opens the database with every
// column family the modules need and hands each module its handles, so raft/ and kvstore/ never
// include each other. Thread-safe after Open (RocksDB is); owned by the node.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "kvstore/mvcc_store.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Env;
}  // namespace rocksdb

namespace pharos::registry {

class StorageEngine {
 public:
  static Result<std::unique_ptr<StorageEngine>> Open(const std::string& dir);
  // For tests only (tests/cluster/crashable_pharosd_main.cc, tests/registry/raft_driver_test.cc):
  // every database opened after this does its file I/O through `env` (one that can simulate a
  // power cut, or a stalled disk), until it is called again; nullptr restores the default. `env`
  // must live as long as the process.
  static void UseEnvForTesting(rocksdb::Env* env);
  ~StorageEngine();

  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* raft_log() { return cf("raft_log"); }
  rocksdb::ColumnFamilyHandle* raft_meta() { return cf("raft_meta"); }
  kv::Families kv_families() { return {cf("kv"), cf("kv_meta"), cf("kv_lease")}; }
  // The member table: id (8 bytes, big-endian) -> Member.
  rocksdb::ColumnFamilyHandle* members() { return cf("members"); }
  // Records read by key: the active alarms (an AlarmResponse under "alarms") and the removed
  // members (a MemberListResponse under "removed-members", registry/applier.cc).
  rocksdb::ColumnFamilyHandle* alarms() { return cf("alarms"); }
  // Bytes on disk (SST and WAL), for status and metrics.
  uint64_t SizeBytes() const;
  // The backend's size as the quota counts it (etcd's db size): the key-value state, member
  // table and alarms, in live SST files and memtables. The Raft log is not counted: it is
  // truncated by snapshots on its own schedule.
  uint64_t BackendSizeBytes();
  // Flushes and fully compacts the backend's column families, so space freed by deletes and
  // compaction goes back to the file system. Slow; blocks the caller.
  Status Defragment();

 private:
  StorageEngine() = default;
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) { return handles_.at(name); }
  std::vector<rocksdb::ColumnFamilyHandle*> BackendFamilies();

  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace pharos::registry
