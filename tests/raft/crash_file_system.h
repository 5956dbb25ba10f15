// CrashFileSystem: a RocksDB FileSystem for durability tests that remembers how much of each file
// has been synced, and at a simulated crash throws away every byte that was not (DESIGN.md §10).
// SIGKILL alone keeps the page cache, so a missing fsync survives it; through this wrapper it does
// not. Usage: open the database with Env() in its options, work, call Crash() at the instant the
// power goes, close the database (nothing it does from then on reaches the disk), call
// DropUnsyncedData(), and reopen — with a fresh CrashFileSystem, which takes every file on disk as
// synced.
//
// The model: a file's bytes are durable up to its last Sync/Fsync (RangeSync and Flush are not
// durability points). Past that, the page cache may have written back any prefix of the rest
// before the power went: DropUnsyncedData keeps none of it, or, given a generator, a random
// prefix of each file's unsynced bytes — a torn WAL can then end between two records that were
// written together but not synced together. Space reserved past the written bytes with the file's
// size set (RocksDB's WAL, as pharosd opens it) stays, and reads as zeros; so do the unsynced
// bytes written into it that the crash dropped. A file never synced that keeps no byte is gone.
// Renames and deletions take effect at once (RocksDB syncs the directory around the renames it
// relies on). After Crash() every write,
// sync, rename and deletion fails, as they would in a process that no longer exists.
//
// Thread rules: thread-safe (RocksDB calls it from its own threads).
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>

namespace pharos::testing {

class CrashFileSystem : public rocksdb::FileSystemWrapper {
 public:
  CrashFileSystem();
  const char* Name() const override { return "PharosCrashFileSystem"; }

  // An Env that uses this file system, for rocksdb::Options::env. The CrashFileSystem must
  // outlive every database opened with it.
  rocksdb::Env* env() { return env_.get(); }

  // The power goes: from now on nothing reaches the disk. Returns once no operation that started
  // before it is still running, so a crash inside a live process (the crashable pharosd) can
  // drop unsynced data at once, with the database still open.
  void Crash();
  // The power goes in a live process (the crashable pharosd), with the database still open:
  // waits for the operations in progress, then holds every later one forever — a machine without
  // power neither writes nor reports errors, so no thread of the process sees a failure it could
  // act on — and throws away what was not synced, as DropUnsyncedData(rng) does. The caller ends
  // the process right after. Returns the bytes that were not synced.
  uint64_t CutPower(std::mt19937_64* rng);
  // After the database is closed: truncates every file written through this file system to what
  // was synced before Crash() (plus, with `rng`, a random prefix of what was not), and removes
  // files left with nothing that never were synced.
  void DropUnsyncedData(std::mt19937_64* rng = nullptr);
  // Bytes written but not synced, over all files: how much the crash threw away (for reports).
  uint64_t unsynced_bytes() const;

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& target,
                               const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override;

 private:
  class File;
  struct FileState {
    uint64_t size = 0;    // bytes appended
    uint64_t synced = 0;  // bytes durable
  };
  rocksdb::IOStatus Track(const std::string& path, uint64_t existing, rocksdb::IOStatus s,
                          std::unique_ptr<rocksdb::FSWritableFile>* r);
  void Appended(const std::string& path, uint64_t n);
  uint64_t SizeOf(const std::string& path) const;
  // The file's first `size` bytes are durable.
  void SyncedTo(const std::string& path, uint64_t size);

  std::unique_ptr<rocksdb::Env> env_;
  // Held shared by every operation that reaches the disk, for its whole length, and exclusively
  // by Crash(); crashed_ changes only under it.
  std::shared_mutex gate_;
  bool crashed_ = false;
  mutable std::mutex mu_;  // files_
  std::map<std::string, FileState> files_;
};

}  // namespace pharos::testing
