#include "tests/registry/stalling_file_system.h"

#include <thread>

namespace pharos::testing {

// A writable file whose syncs ask its file system whether to wait first.
class StallingFileSystem::File : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  File(StallingFileSystem* fs, std::string path, std::unique_ptr<rocksdb::FSWritableFile> target)
      : FSWritableFileOwnerWrapper(std::move(target)), fs_(fs), path_(std::move(path)) {}

  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    fs_->MaybeStall(path_);
    return target()->Sync(o, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    fs_->MaybeStall(path_);
    return target()->Fsync(o, dbg);
  }

 private:
  StallingFileSystem* fs_;
  std::string path_;
};

StallingFileSystem::StallingFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {
  // A non-owning shared_ptr: the Env lives inside this object and must not delete it.
  env_ = rocksdb::NewCompositeEnv(std::shared_ptr<rocksdb::FileSystem>(this, [](auto*) {}));
}

void StallingFileSystem::Stall(const std::string& dir, std::chrono::milliseconds stall) {
  std::lock_guard<std::mutex> lock(mu_);
  stalls_[dir] = stall;
}

void StallingFileSystem::StopStalling() {
  std::lock_guard<std::mutex> lock(mu_);
  stalls_.clear();
}

int StallingFileSystem::stalled_syncs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stalled_syncs_;
}

void StallingFileSystem::MaybeStall(const std::string& path) {
  std::chrono::milliseconds stall{0};
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [dir, ms] : stalls_) {
      if (path.rfind(dir + "/", 0) == 0) stall = ms;
    }
    if (stall.count() == 0) return;
    ++stalled_syncs_;
  }
  std::this_thread::sleep_for(stall);  // not under mu_: other members' syncs go on meanwhile
}

rocksdb::IOStatus StallingFileSystem::NewWritableFile(const std::string& f,
                                                      const rocksdb::FileOptions& o,
                                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                                      rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->NewWritableFile(f, o, r, dbg);
  if (s.ok()) *r = std::make_unique<File>(this, f, std::move(*r));
  return s;
}

}  // namespace pharos::testing
