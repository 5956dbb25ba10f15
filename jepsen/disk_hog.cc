#include "jepsen/disk_hog.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

namespace pharos::jepsen {
namespace {
constexpr size_t kBlock = 4 << 20;    // one write(2)
constexpr size_t kRound = 256 << 20;  // then one fdatasync
}  // namespace

void DiskHog::Start() {
  if (running()) return;
  stop_ = false;
  written_bytes_ = 0;
  synced_bytes_ = 0;
  writer_ = std::thread([this] { Run(); });
}

void DiskHog::Stop() {
  if (!running()) return;
  stop_ = true;
  writer_.join();
  ::unlink(path_.c_str());
}

void DiskHog::Run() {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror(("disk hog: " + path_).c_str());
    return;
  }
  const std::vector<char> block(kBlock, 'x');
  while (!stop_) {
    if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) break;
    size_t written = 0;
    while (written < kRound && !stop_) {
      const ssize_t n = ::write(fd, block.data(), block.size());
      if (n <= 0) break;
      written += static_cast<size_t>(n);
      written_bytes_ += static_cast<uint64_t>(n);
    }
    if (::fdatasync(fd) != 0) break;
    synced_bytes_ += written;
  }
  ::close(fd);
}

}  // namespace pharos::jepsen
