#include "tests/raft/crash_file_system.h"

#include <algorithm>
#include <filesystem>

namespace pharos::testing {

namespace {
rocksdb::IOStatus Gone() {
  return rocksdb::IOStatus::IOError("simulated crash: the process is gone");
}
}  // namespace

// A writable file that reports what it appends and syncs to its file system.
class CrashFileSystem::File : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  File(CrashFileSystem* fs, std::string path, std::unique_ptr<rocksdb::FSWritableFile> target)
      : FSWritableFileOwnerWrapper(std::move(target)), fs_(fs), path_(std::move(path)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    std::shared_lock gate(fs_->gate_);
    if (fs_->crashed_) return Gone();
    rocksdb::IOStatus s = target()->Append(data, o, dbg);
    if (s.ok()) fs_->Appended(path_, data.size());
    return s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    std::shared_lock gate(fs_->gate_);
    if (fs_->crashed_) return Gone();
    rocksdb::IOStatus s = target()->Append(data, o, info, dbg);
    if (s.ok()) fs_->Appended(path_, data.size());
    return s;
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
    std::shared_lock gate(fs_->gate_);
    if (fs_->crashed_) return Gone();
    return target()->Truncate(size, o, dbg);
  }
  rocksdb::IOStatus Flush(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    std::shared_lock gate(fs_->gate_);
    if (fs_->crashed_) return Gone();
    return target()->Flush(o, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    std::shared_lock gate(fs_->gate_);
    if (fs_->crashed_) return Gone();
    // Only what was written before the sync began is durable after it: RocksDB syncs the WAL
    // while other threads append to it (DB::SyncWAL).
    const uint64_t upto = fs_->SizeOf(path_);
    rocksdb::IOStatus s = target()->Sync(o, dbg);
    if (s.ok()) fs_->SyncedTo(path_, upto);
    return s;
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    std::shared_lock gate(fs_->gate_);
    if (fs_->crashed_) return Gone();
    // Only what was written before the sync began is durable after it: RocksDB syncs the WAL
    // while other threads append to it (DB::SyncWAL).
    const uint64_t upto = fs_->SizeOf(path_);
    rocksdb::IOStatus s = target()->Fsync(o, dbg);
    if (s.ok()) fs_->SyncedTo(path_, upto);
    return s;
  }
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override {
    // sync_file_range makes no promise about durability: not a sync point.
    std::shared_lock gate(fs_->gate_);
    if (fs_->crashed_) return Gone();
    return target()->RangeSync(offset, nbytes, o, dbg);
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    // Closing flushes nothing durable; after the crash the descriptor is closed all the same.
    return target()->Close(o, dbg);
  }

 private:
  CrashFileSystem* fs_;
  std::string path_;
};

CrashFileSystem::CrashFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {
  // A non-owning shared_ptr: the Env lives inside this object and must not delete it.
  env_ = rocksdb::NewCompositeEnv(std::shared_ptr<rocksdb::FileSystem>(this, [](auto*) {}));
}

void CrashFileSystem::Crash() {
  // Waits for every write, sync, rename and deletion in progress: none can land after this.
  std::unique_lock gate(gate_);
  crashed_ = true;
}

uint64_t CrashFileSystem::CutPower(std::mt19937_64* rng) {
  gate_.lock();  // never unlocked: every operation from now on waits until the process is gone
  crashed_ = true;
  const uint64_t unsynced = unsynced_bytes();
  DropUnsyncedData(rng);
  return unsynced;
}

void CrashFileSystem::Appended(const std::string& path, uint64_t n) {
  std::lock_guard lock(mu_);
  files_[path].size += n;
}

uint64_t CrashFileSystem::SizeOf(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? 0 : it->second.size;
}

void CrashFileSystem::SyncedTo(const std::string& path, uint64_t size) {
  std::lock_guard lock(mu_);
  FileState& f = files_[path];
  f.synced = std::max(f.synced, size);
}

uint64_t CrashFileSystem::unsynced_bytes() const {
  std::lock_guard lock(mu_);
  uint64_t total = 0;
  for (const auto& [path, f] : files_) total += f.size - f.synced;
  return total;
}

rocksdb::IOStatus CrashFileSystem::Track(const std::string& path, uint64_t existing,
                                         rocksdb::IOStatus s,
                                         std::unique_ptr<rocksdb::FSWritableFile>* r) {
  if (!s.ok()) return s;
  {
    std::lock_guard lock(mu_);
    files_[path] = FileState{existing, existing};  // what was there is taken as durable
  }
  *r = std::make_unique<File>(this, path, std::move(*r));
  return s;
}

rocksdb::IOStatus CrashFileSystem::NewWritableFile(const std::string& f,
                                                   const rocksdb::FileOptions& o,
                                                   std::unique_ptr<rocksdb::FSWritableFile>* r,
                                                   rocksdb::IODebugContext* dbg) {
  std::shared_lock gate(gate_);
  if (crashed_) return Gone();
  return Track(f, 0, target()->NewWritableFile(f, o, r, dbg), r);
}

rocksdb::IOStatus CrashFileSystem::ReopenWritableFile(const std::string& f,
                                                      const rocksdb::FileOptions& o,
                                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                                      rocksdb::IODebugContext* dbg) {
  std::shared_lock gate(gate_);
  if (crashed_) return Gone();
  bool known = false;
  {
    std::lock_guard lock(mu_);
    known = files_.count(f) > 0;
  }
  rocksdb::IOStatus s = target()->ReopenWritableFile(f, o, r, dbg);
  if (!s.ok()) return s;
  if (known) {  // written earlier in this run: what it knew of the file still holds
    *r = std::make_unique<File>(this, f, std::move(*r));
    return s;
  }
  std::error_code ec;
  const uint64_t existing = std::filesystem::file_size(f, ec);
  return Track(f, ec ? 0 : existing, s, r);
}

rocksdb::IOStatus CrashFileSystem::ReuseWritableFile(const std::string& f, const std::string& old,
                                                     const rocksdb::FileOptions& o,
                                                     std::unique_ptr<rocksdb::FSWritableFile>* r,
                                                     rocksdb::IODebugContext* dbg) {
  std::shared_lock gate(gate_);
  if (crashed_) return Gone();
  {
    std::lock_guard lock(mu_);
    files_.erase(old);
  }
  return Track(f, 0, target()->ReuseWritableFile(f, old, o, r, dbg), r);
}

rocksdb::IOStatus CrashFileSystem::RenameFile(const std::string& src, const std::string& target,
                                              const rocksdb::IOOptions& o,
                                              rocksdb::IODebugContext* dbg) {
  std::shared_lock gate(gate_);
  if (crashed_) return Gone();
  rocksdb::IOStatus s = FileSystemWrapper::RenameFile(src, target, o, dbg);
  if (!s.ok()) return s;
  std::lock_guard lock(mu_);
  auto it = files_.find(src);
  if (it == files_.end()) {
    files_.erase(target);
  } else {
    files_[target] = it->second;
    files_.erase(it);
  }
  return s;
}

rocksdb::IOStatus CrashFileSystem::DeleteFile(const std::string& f, const rocksdb::IOOptions& o,
                                              rocksdb::IODebugContext* dbg) {
  std::shared_lock gate(gate_);
  if (crashed_) return Gone();
  rocksdb::IOStatus s = FileSystemWrapper::DeleteFile(f, o, dbg);
  if (s.ok()) {
    std::lock_guard lock(mu_);
    files_.erase(f);
  }
  return s;
}

void CrashFileSystem::DropUnsyncedData(std::mt19937_64* rng) {
  std::lock_guard lock(mu_);
  for (const auto& [path, f] : files_) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;
    const uint64_t on_disk = std::filesystem::file_size(path, ec);
    if (ec) continue;
    // Past what was written, a file may hold space reserved with its size set (RocksDB's WAL,
    // see StorageEngine): that space survives, and reads as zeros.
    const uint64_t written = std::min(f.size, on_disk);
    uint64_t keep = std::min(f.synced, written);
    if (rng != nullptr && written > keep) keep += (*rng)() % (written - keep + 1);
    if (keep == 0 && f.synced == 0) {
      std::filesystem::remove(path, ec);
    } else if (on_disk > keep) {
      std::filesystem::resize_file(path, keep, ec);
      if (on_disk > written) std::filesystem::resize_file(path, on_disk, ec);
    }
  }
  files_.clear();
}

}  // namespace pharos::testing
