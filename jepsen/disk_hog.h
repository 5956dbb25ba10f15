// DiskHog: a noisy neighbour on the members' disk. While it runs, a thread writes 256 MiB to one
// file and fdatasyncs it, over and over (truncating first, so the blocks are new each round and
// the file system's journal works for them too). On a disk the members share, their log syncs
// stall behind it for tens to hundreds of milliseconds, as they did beside `dd ... conv=fdatasync`
// in PERFORMANCE.md ("Run 38"). The file is removed when it stops.
//
// Thread rules: Start and Stop from one thread; the writer is a thread of its own.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace pharos::jepsen {

class DiskHog {
 public:
  explicit DiskHog(std::string path) : path_(std::move(path)) {}
  ~DiskHog() { Stop(); }
  DiskHog(const DiskHog&) = delete;
  DiskHog& operator=(const DiskHog&) = delete;

  void Start();
  // Returns once the writer has stopped (within one block's write) and the file is gone.
  void Stop();
  bool running() const { return writer_.joinable(); }
  // Since the last Start: bytes written, and bytes made durable (evidence that the fault was
  // applied).
  uint64_t written_bytes() const { return written_bytes_; }
  uint64_t synced_bytes() const { return synced_bytes_; }

 private:
  void Run();

  std::string path_;
  std::thread writer_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> written_bytes_{0};
  std::atomic<uint64_t> synced_bytes_{0};
};

}  // namespace pharos::jepsen
