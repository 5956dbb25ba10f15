// RawConnection: a client socket that speaks the framed protocol by hand, for tests that need a
// client the SDK would never be — one that stops reading, or closes mid-request.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

#include "common/frame.h"
#include "proto/pharos.pb.h"

namespace pharos::testing {

class RawConnection {
 public:
  // Connects to `endpoint` (host:port) at once unless it is empty (then see Connect).
  explicit RawConnection(const std::string& endpoint = "") : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    // A small receive buffer, so that what the member queues shows in the member, not here.
    const int small = 64 * 1024;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    if (!endpoint.empty()) Connect(endpoint);
  }
  ~RawConnection() { Close(); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool Connect(const std::string& endpoint) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    const size_t colon = endpoint.rfind(':');
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(endpoint.substr(colon + 1))));
    inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    return connected_;
  }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }  // for bytes that are not frames
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  // Writes the whole frame (blocking while the member does not read).
  bool Send(const pb::Envelope& e) {
    std::string frame;
    AppendFrame(&frame, e.SerializeAsString());
    size_t at = 0;
    while (at < frame.size()) {
      const ssize_t n = write(fd_, frame.data() + at, frame.size() - at);
      if (n <= 0) return false;
      at += static_cast<size_t>(n);
    }
    return true;
  }
  // The next envelope, or nullopt if none came before the deadline.
  std::optional<pb::Envelope> Next(std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      auto frame = decoder_.Next();
      if (!frame.ok()) return std::nullopt;
      if (frame->has_value()) {
        pb::Envelope e;
        if (!e.ParseFromString(**frame)) return std::nullopt;
        return e;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[64 * 1024];
      const ssize_t n = read(fd_, buf, sizeof(buf));
      if (n <= 0) return std::nullopt;
      decoder_.Append(std::string_view(buf, static_cast<size_t>(n)));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
  FrameDecoder decoder_{64 << 20};  // answers may be larger than requests
};

}  // namespace pharos::testing
