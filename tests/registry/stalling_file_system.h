// StallingFileSystem: a RocksDB FileSystem for tests whose syncs of files under chosen directories
// each take a set time longer, as on a disk that another process's writes have stalled (a 1.5 GB
// `dd ... conv=fdatasync` beside a cluster made members' log syncs take 0.1-1 s on this project's
// machines). Usage: hand env() to StorageEngine::UseEnvForTesting before opening, then Stall().
//
// Thread rules: thread-safe (RocksDB calls it from its own threads). It must outlive every
// database opened with it.
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace pharos::testing {

class StallingFileSystem : public rocksdb::FileSystemWrapper {
 public:
  StallingFileSystem();
  const char* Name() const override { return "PharosStallingFileSystem"; }

  // An Env that uses this file system.
  rocksdb::Env* env() { return env_.get(); }
  // From now on every sync of a file under `dir` first waits `stall`.
  void Stall(const std::string& dir, std::chrono::milliseconds stall);
  void StopStalling();
  // Syncs that waited, so far.
  int stalled_syncs() const;

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override;

 private:
  class File;
  // Waits as long as the stall of `path`'s directory says, if any.
  void MaybeStall(const std::string& path);

  std::unique_ptr<rocksdb::Env> env_;
  mutable std::mutex mu_;
  std::map<std::string, std::chrono::milliseconds> stalls_;  // directory -> added to each sync
  int stalled_syncs_ = 0;
};

}  // namespace pharos::testing
