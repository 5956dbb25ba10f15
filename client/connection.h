// Connection: one TCP connection from the SDK to one pharosd, carrying many requests at once
// (DESIGN.md §5). It connects lazily on the first Send, queues frames while connecting, and
// routes each response to the handler registered under its envelope id — once for a unary call,
// for every message of a stream. When the connection breaks, every handler still registered runs
// once with the error and whether its request had been handed to the socket: a write that was
// never sent may be retried safely, one that was sent has an unknown outcome.
//
// A member that accepts connections but never answers (SIGSTOPped, a frozen VM, a blackholed
// network) would otherwise hold its callers until the kernel gives up on the socket, minutes
// later. So the connection breaks itself: a connect not done within `dial_timeout`, and, while
// it owes answers (a pending call or an open stream), silence for `keepalive_time` followed by
// no byte at all within `keepalive_timeout` of a probe (a StatusRequest, which the server answers
// from cached state on its I/O thread). A connection that owes nothing sends no probes and arms
// no timer.
//
// Internal to client/ (it includes Asio). Thread rules: every method runs on the io_context's
// thread; handlers run there too.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/asio.h"
#include "common/frame.h"
#include "common/status.h"
#include "proto/pharos.pb.h"

namespace pharos::client {

struct ConnectionOptions {
  size_t max_frame_bytes = kMaxAnswerFrameBytes;  // the largest answer accepted
  std::chrono::milliseconds dial_timeout{2000};
  std::chrono::milliseconds keepalive_time{1000};
  std::chrono::milliseconds keepalive_timeout{1000};
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `error` is OK with a response, else the transport failure (and `response` is null). `sent`
  // tells whether the request had left for the server when the connection failed.
  using Handler = std::function<void(const Status& error, pb::Envelope* response, bool sent)>;

  // Probes carry ids with this bit set; the Client numbers its requests from 1 up, so a probe's
  // answer can never be taken for a call's.
  static constexpr uint64_t kProbeIdBit = uint64_t{1} << 63;

  Connection(boost::asio::io_context& io, std::string endpoint, ConnectionOptions options);
  ~Connection();

  void Send(const pb::Envelope& request, bool stream, Handler handler);
  // Stops routing responses with this id (a call that timed out, a stream the caller closed).
  void Forget(uint64_t id);
  // Fails everything pending with `why` and closes the socket.
  void Close(const Status& why);
  bool broken() const { return state_ == State::kBroken; }
  const std::string& endpoint() const { return endpoint_; }

 private:
  using SteadyClock = std::chrono::steady_clock;
  enum class State { kIdle, kConnecting, kOpen, kBroken };
  struct Pending {
    Handler handler;
    bool stream = false;
    bool sent = false;
  };

  void Connect();
  void Write();
  void Read();
  void Deliver(pb::Envelope response);
  // Bookkeeping for the liveness check around every change of pending_.
  void Owe(bool was_owing);
  void Settled();
  void ArmLiveness(SteadyClock::time_point at);
  void CheckLiveness();
  SteadyClock::time_point NextCheck(SteadyClock::time_point now) const;

  boost::asio::io_context& io_;
  std::string endpoint_;
  ConnectionOptions options_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::ip::tcp::resolver resolver_;
  State state_ = State::kIdle;
  std::map<uint64_t, Pending> pending_;
  std::deque<std::pair<uint64_t, std::string>> queued_;  // (id, frame) not yet written
  bool writing_ = false;
  bool write_posted_ = false;  // a Write() is posted for the end of this event-loop turn
  std::string out_;
  FrameDecoder decoder_;
  std::array<char, 64 * 1024> in_;

  boost::asio::steady_timer dial_timer_;
  boost::asio::steady_timer liveness_timer_;
  bool liveness_armed_ = false;
  // Silence is counted only while something is owed: time spent owing nothing is skipped by
  // moving these forward when owing resumes. Calls that gave up unanswered do not reset it, so
  // a string of short calls to a silent member still adds up to a verdict.
  SteadyClock::time_point quiet_since_;                // the last byte received (or the connect)
  std::optional<SteadyClock::time_point> probe_sent_;  // a probe unanswered by any byte
  SteadyClock::time_point idle_since_;                 // pending_ last became empty
  uint64_t probes_ = 0;
};

}  // namespace pharos::client
