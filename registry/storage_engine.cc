#include "registry/storage_engine.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <string_view>
#include <vector>

namespace pharos::registry {

namespace {
const char* const kFamilies[] = {"raft_log", "raft_meta", "kv",    "kv_meta",
                                 "kv_lease", "members",   "alarms"};

// Memory. RocksDB's defaults give every column family 64 MiB memtables and a block cache of its
// own; with eight families a node kept every write since it started in memtables (heaptrack after
// 100,000 puts of 256 bytes: 82 MiB of memtable arenas in a 116 MiB process, PERFORMANCE.md).
// A registry's data is small and its reads are served from the in-memory key index plus one
// point lookup, so the memtables only need to absorb bursts between flushes: they are sized per
// family below, and all of them together are capped by one WriteBufferManager. Flushing sooner
// changes nothing about durability: the WAL and its sync rules are the same (DESIGN.md §4).
// Measured on 3 members under 64 writers, 2 MiB costs no more CPU per put than 4 MiB and holds
// 4 MiB less per member.
constexpr size_t kMiB = size_t{1} << 20;
// The log and the KV data take every write; the meta families one small overwritten key per
// batch (a flush keeps only the last version); the rest are written a few times in a node's life.
size_t MemtableBytesOf(std::string_view family) {
  if (family == "raft_log" || family == "kv") return 2 * kMiB;
  if (family == "raft_meta" || family == "kv_meta" || family == "kv_lease") return 1 * kMiB;
  return kMiB / 4;
}
constexpr size_t kAllMemtablesBytes = 8 * kMiB;
// Shared by every family, for data and index blocks alike; past it reads go to the OS page cache,
// each a pread, a copy and a decompression on the apply thread, which serves every read. 32 MiB
// holds 100,000 keys of 256 bytes: with 8 MiB, linearizable gets over those keys (3 members, 64
// clients) ran at 21-22k/s, with 32 MiB at 35-37k/s. It fills only as reads touch blocks: the
// leader's resident memory went from 44 to 75 MiB after those gets, none on the followers.
constexpr size_t kBlockCacheBytes = 32 * kMiB;
// Not done: a fixed glibc mmap threshold (mallopt) hands a flushed memtable's arena blocks back
// to the system instead of leaving them in malloc's heaps, 8 MiB less per member, but every other
// large allocation then pays mmap, munmap and page faults too: put throughput fell by 10-25%.

rocksdb::ColumnFamilyOptions FamilyOptions(std::string_view family,
                                           const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  o.write_buffer_size = MemtableBytesOf(family);
  o.max_write_buffer_number = 2;  // one filling while the other flushes
  if (family == "raft_meta" || family == "kv_meta") {
    // These families hold a few keys, each overwritten with every batch (the hard state; the
    // applied index and revision). In a skip list each new version goes in front of all the older
    // versions of its key, which the list must walk past: a perf profile of 64 writers on 3
    // members put 21% of their CPU in MemTable::Add, against 7% with these families appending to
    // a vector, which is sorted once when it is flushed. Only a restart and a snapshot read them
    // (the node keeps their values in memory), so the vector's slow reads do not matter.
    o.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
  }
  if (family == "raft_log") {
    // Entries live until the next log compaction (snapshot_count entries); compressing the ones
    // a flush writes out first was 2% of the members' CPU in the same profile, for space that
    // is given back soon after.
    o.compression = rocksdb::kNoCompression;
  }
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  // Index and filter blocks count against the cache instead of growing with the data outside it.
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return o;
}

rocksdb::Env* env_for_testing = nullptr;

// The WAL's preallocated space counts in the file's size. RocksDB reserves WAL space ahead of the
// writes (fallocate), but by default without changing the file's size, so every append moves the
// size, and every synced append writes the inode as well as the data: two writes per fdatasync.
// With the size set at reservation, a synced append inside the reserved space writes its data
// only (and, once per 4 KiB block, the extent's state). After a crash the unwritten rest of the
// file reads as zeros: RocksDB's log reader skips them as the preallocated tail it was made to
// expect (record type zero) and finds no record after them. Measured in PERFORMANCE.md ("Runs 18
// and 19").
class WalSizedAtReservation : public rocksdb::FileSystemWrapper {
 public:
  explicit WalSizedAtReservation(std::shared_ptr<rocksdb::FileSystem> base)
      : FileSystemWrapper(std::move(base)) {}
  const char* Name() const override { return "PharosWalSizedAtReservation"; }
  rocksdb::FileOptions OptimizeForLogWrite(const rocksdb::FileOptions& file_options,
                                           const rocksdb::DBOptions& db_options) const override {
    rocksdb::FileOptions o = target()->OptimizeForLogWrite(file_options, db_options);
    o.fallocate_with_keep_size = false;
    return o;
  }
};

// One per base Env (the default one, or a test's), made on first use and kept for the process's
// life: an Env must outlive every database opened with it.
rocksdb::Env* EngineEnv() {
  static std::mutex mu;
  static std::map<rocksdb::Env*, std::unique_ptr<rocksdb::Env>> envs;
  rocksdb::Env* base = env_for_testing != nullptr ? env_for_testing : rocksdb::Env::Default();
  std::lock_guard<std::mutex> lock(mu);
  std::unique_ptr<rocksdb::Env>& env = envs[base];
  if (env == nullptr) {
    env = rocksdb::NewCompositeEnv(std::make_shared<WalSizedAtReservation>(base->GetFileSystem()));
  }
  return env.get();
}
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
  options.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(kAllMemtablesBytes);
  options.env = EngineEnv();
  // The vector memtables above take one writer at a time: the leader of a RocksDB write group
  // inserts every batch of the group itself. Measured only together with them (PERFORMANCE.md).
  options.allow_concurrent_memtable_write = false;
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  const std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  descs.emplace_back(rocksdb::kDefaultColumnFamilyName,
                     FamilyOptions(rocksdb::kDefaultColumnFamilyName, cache));
  for (const char* f : kFamilies) descs.emplace_back(f, FamilyOptions(f, cache));
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
