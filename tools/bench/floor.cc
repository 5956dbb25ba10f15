#include "tools/bench/floor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace pharos::bench {
namespace {

using Clock = std::chrono::steady_clock;

int64_t Since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

Status Errno(const std::string& what) { return Status::IoError(what + ": " + strerror(errno)); }

bool FullIo(int fd, char* buf, size_t n, bool write) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = write ? ::write(fd, buf + done, n - done) : ::read(fd, buf + done, n - done);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(r);
  }
  return true;
}

Result<sockaddr_in> AddressOf(const std::string& host, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
    return Status::InvalidArgument("not an IPv4 address: " + host);
  }
  return a;
}

}  // namespace

Result<Histogram> ProbeFdatasync(const std::string& dir, int count, int bytes) {
  const std::string path = dir + "/.pharos-bench-fdatasync-probe";
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0644);
  if (fd < 0) return Errno("open " + path);
  std::string data(static_cast<size_t>(bytes), 'x');
  Histogram hist;
  Status status;
  for (int i = 0; i < count; ++i) {
    const auto t0 = Clock::now();
    if (!FullIo(fd, data.data(), data.size(), true) || ::fdatasync(fd) != 0) {
      status = Errno("append+fdatasync " + path);
      break;
    }
    hist.Record(Since(t0));
  }
  ::close(fd);
  ::unlink(path.c_str());
  if (!status.ok()) return status;
  return hist;
}

Result<Histogram> ProbeLoopback(const std::string& server_host, const std::string& client_host,
                                int count) {
  auto server_addr = AddressOf(server_host, 0);
  auto client_addr = AddressOf(client_host, 0);
  if (!server_addr.ok()) return server_addr.status();
  if (!client_addr.ok()) return client_addr.status();
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  socklen_t len = sizeof(sockaddr_in);
  if (listener < 0 ||
      ::bind(listener, reinterpret_cast<sockaddr*>(&*server_addr), sizeof(sockaddr_in)) != 0 ||
      ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&*server_addr), &len) != 0) {
    if (listener >= 0) ::close(listener);
    return Errno("listen on " + server_host);
  }
  constexpr size_t kMessage = 64;
  std::thread echo([listener, count] {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char buf[kMessage];
    for (int i = 0; i < count; ++i) {
      if (!FullIo(fd, buf, kMessage, false) || !FullIo(fd, buf, kMessage, true)) break;
    }
    ::close(fd);
  });
  Histogram hist;
  Status status;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&*client_addr), sizeof(sockaddr_in)) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&*server_addr), sizeof(sockaddr_in)) != 0) {
    status = Errno("connect from " + client_host);
  } else {
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char buf[kMessage] = {};
    for (int i = 0; i < count; ++i) {
      const auto t0 = Clock::now();
      if (!FullIo(fd, buf, kMessage, true) || !FullIo(fd, buf, kMessage, false)) {
        status = Errno("ping-pong");
        break;
      }
      hist.Record(Since(t0));
    }
  }
  if (fd >= 0) ::close(fd);
  ::shutdown(listener, SHUT_RDWR);
  echo.join();
  ::close(listener);
  if (!status.ok()) return status;
  return hist;
}

}  // namespace pharos::bench
