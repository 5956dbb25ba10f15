// LeaseKeepAlive: keeps one lease alive from the client's I/O thread. It renews every TTL/3 and
// keeps a conservative deadline — the send time of the last acknowledged renewal plus the TTL —
// since a holder cannot know the instant the server expires its lease (DESIGN.md §6). The lease is
// lost, and `on_lost` runs once, when the server says it is gone or the deadline passes; nothing is
// renewed after that. Destroying the handle stops renewing (it does not revoke).
//
// Thread rules: deadline(), lost(), ttl() from any thread; destroy from any thread but the
// client's own callbacks of this keepalive.
// Like everything built on a Client, it must be destroyed before that Client.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "common/clock.h"
#include "common/status.h"

namespace pharos::client {

class Client;

class LeaseKeepAlive {
 public:
  LeaseKeepAlive(Client& client, int64_t id, Clock::TimePoint known_alive_until,
                 std::function<void(Status)> on_lost);
  ~LeaseKeepAlive();
  LeaseKeepAlive(const LeaseKeepAlive&) = delete;
  LeaseKeepAlive& operator=(const LeaseKeepAlive&) = delete;

  int64_t id() const { return id_; }
  Clock::TimePoint deadline() const;
  bool lost() const;
  // The TTL the server last granted, in seconds (0 before the first renewal).
  int64_t ttl() const;

 private:
  struct State;
  int64_t id_;
  std::shared_ptr<State> state_;
};

}  // namespace pharos::client
