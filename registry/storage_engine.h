// StorageEngine: the node's one RocksDB instance (DESIGN.md §4). It opens the database with every
// column family the modules need and hands each module its handles, so raft/ and kvstore/ never
// include each other. Thread-safe after Open (RocksDB is); owned by the node.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/result.h"
#include "kvstore/mvcc_store.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace pharos::registry {

class StorageEngine {
 public:
  static Result<std::unique_ptr<StorageEngine>> Open(const std::string& dir);
  ~StorageEngine();

  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* raft_log() { return cf("raft_log"); }
  rocksdb::ColumnFamilyHandle* raft_meta() { return cf("raft_meta"); }
  kv::Families kv_families() { return {cf("kv"), cf("kv_meta"), cf("kv_lease")}; }
  // The member table: id (8 bytes, big-endian) -> Member.
  rocksdb::ColumnFamilyHandle* members() { return cf("members"); }
  // Bytes on disk (SST and WAL), for status and metrics.
  uint64_t SizeBytes() const;

 private:
  StorageEngine() = default;
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) { return handles_.at(name); }

  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace pharos::registry
