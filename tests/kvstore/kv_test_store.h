// KvTestStore: an MvccStore on a RocksDB instance of its own in a temporary directory, which can
// be closed and reopened (a restart). Test-only.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "kvstore/mvcc_store.h"
#include "tests/raft/rocks_test_db.h"

namespace pharos::kv::testing {

class KvTestStore {
 public:
  explicit KvTestStore(const std::string& name)
      : dir_(pharos::testing::TestRocksDb::FreshDir(name)) {
    Reopen();
  }
  ~KvTestStore() {
    store_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Closes everything and opens it again from disk.
  void Reopen() {
    store_.reset();
    db_.reset();
    db_ = std::make_unique<pharos::testing::TestRocksDb>(
        dir_, std::vector<std::string>{"kv", "kv_meta", "kv_lease"});
    if (!db_->status().ok()) throw std::runtime_error(db_->status().ToString());
    auto s = MvccStore::Open(db_->db(), {db_->cf("kv"), db_->cf("kv_meta"), db_->cf("kv_lease")});
    if (!s.ok()) throw std::runtime_error(s.status().ToString());
    store_ = std::move(*s);
  }
  // The database under the store, for tests that change what it holds behind the store's back.
  rocksdb::DB* db() { return db_->db(); }
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) { return db_->cf(name); }
  MvccStore& operator*() { return *store_; }
  MvccStore* operator->() { return store_.get(); }

 private:
  std::string dir_;
  std::unique_ptr<pharos::testing::TestRocksDb> db_;
  std::unique_ptr<MvccStore> store_;
};

}  // namespace pharos::kv::testing
