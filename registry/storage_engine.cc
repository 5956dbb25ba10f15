#include "registry/storage_engine.h"

#include <rocksdb/db.h>

#include <filesystem>
#include <vector>

namespace pharos::registry {

namespace {
const char* const kFamilies[] = {"raft_log", "raft_meta", "kv",    "kv_meta",
                                 "kv_lease", "members",   "alarms"};
rocksdb::Env* env_for_testing = nullptr;
}  // namespace

void StorageEngine::UseEnvForTesting(rocksdb::Env* env) { env_for_testing = env; }

Result<std::unique_ptr<StorageEngine>> StorageEngine::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create data directory " + dir + ": " + ec.message());
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  // Two cores: RocksDB's background work should not compete with the node's own threads.
  options.max_background_jobs = 2;
  if (env_for_testing != nullptr) options.env = env_for_testing;
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  descs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (const char* f : kFamilies) descs.emplace_back(f, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, descs, &handles, &raw);
  if (!s.ok()) return Status::IoError("cannot open " + dir + ": " + s.ToString());
  std::unique_ptr<StorageEngine> engine(new StorageEngine());
  engine->dir_ = dir;
  engine->db_.reset(raw);
  for (size_t i = 0; i < handles.size(); ++i) engine->handles_[descs[i].name] = handles[i];
  return engine;
}

StorageEngine::~StorageEngine() {
  if (!db_) return;
  for (auto& [name, h] : handles_) db_->DestroyColumnFamilyHandle(h);
  db_.reset();
}

uint64_t StorageEngine::SizeBytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  }
  return total;
}

}  // namespace pharos::registry

namespace pharos::registry {

std::vector<rocksdb::ColumnFamilyHandle*> StorageEngine::BackendFamilies() {
  return {cf("kv"), cf("kv_meta"), cf("kv_lease"), cf("members"), cf("alarms")};
}

uint64_t StorageEngine::BackendSizeBytes() {
  uint64_t total = 0;
  for (rocksdb::ColumnFamilyHandle* h : BackendFamilies()) {
    uint64_t v = 0;
    if (db_->GetIntProperty(h, rocksdb::DB::Properties::kLiveSstFilesSize, &v)) total += v;
    if (db_->GetIntProperty(h, rocksdb::DB::Properties::kCurSizeAllMemTables, &v)) total += v;
  }
  return total;
}

Status StorageEngine::Defragment() {
  const auto families = BackendFamilies();
  rocksdb::FlushOptions flush;
  flush.wait = true;
  if (rocksdb::Status s = db_->Flush(flush, families); !s.ok()) {
    return Status::IoError("defragment: flush: " + s.ToString());
  }
  rocksdb::CompactRangeOptions compact;
  // Rewrite the last level too, or the tombstones and the data they hide stay on disk.
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (rocksdb::ColumnFamilyHandle* h : families) {
    if (rocksdb::Status s = db_->CompactRange(compact, h, nullptr, nullptr); !s.ok()) {
      return Status::IoError("defragment: compact " + h->GetName() + ": " + s.ToString());
    }
  }
  return Status::Ok();
}

}  // namespace pharos::registry
