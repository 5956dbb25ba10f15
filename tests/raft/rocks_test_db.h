// TestRocksDb: a RocksDB instance in a fresh temporary directory with the column families the
// tests need, closed (and optionally removed) on destruction. Test-only helper.
#pragma once

#include <rocksdb/db.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pharos::testing {

class TestRocksDb {
 public:
  // Opens (creating if needed) the database in `dir` with `families` besides "default", through
  // `env` if given (a CrashFileSystem's, for durability tests).
  TestRocksDb(std::string dir, std::vector<std::string> families, rocksdb::Env* env = nullptr)
      : dir_(std::move(dir)) {
    rocksdb::Options options;
    if (env != nullptr) options.env = env;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    descs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
    for (const std::string& f : families) descs.emplace_back(f, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    status_ = rocksdb::DB::Open(options, dir_, descs, &handles, &db);
    db_.reset(db);
    for (size_t i = 0; i < handles.size(); ++i) handles_[descs[i].name] = handles[i];
  }
  ~TestRocksDb() {
    for (auto& [name, h] : handles_) db_->DestroyColumnFamilyHandle(h);
    db_.reset();
  }

  // A fresh directory under the system temp dir.
  static std::string FreshDir(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() /
               (name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::remove_all(dir);
    return dir.string();
  }

  const rocksdb::Status& status() const { return status_; }
  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) { return handles_.at(name); }

 private:
  static inline int counter_ = 0;
  std::string dir_;
  rocksdb::Status status_;
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace pharos::testing
