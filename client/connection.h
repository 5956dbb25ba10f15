// Connection: one TCP connection from the SDK to one pharosd, carrying many requests at once
// (DESIGN.md §5). It connects lazily on the first Send, queues frames while connecting, and
// routes each response to the handler registered under its envelope id — once for a unary call,
// for every message of a stream. When the connection breaks, every handler still registered runs
// once with the error and whether its request had been handed to the socket: a write that was
// never sent may be retried safely, one that was sent has an unknown outcome.
//
// Internal to client/ (it includes Asio). Thread rules: every method runs on the io_context's
// thread; handlers run there too.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/asio.h"
#include "common/frame.h"
#include "common/status.h"
#include "proto/pharos.pb.h"

namespace pharos::client {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `error` is OK with a response, else the transport failure (and `response` is null). `sent`
  // tells whether the request had left for the server when the connection failed.
  using Handler = std::function<void(const Status& error, pb::Envelope* response, bool sent)>;

  Connection(boost::asio::io_context& io, std::string endpoint, size_t max_frame_bytes);
  ~Connection();

  void Send(const pb::Envelope& request, bool stream, Handler handler);
  // Stops routing responses with this id (a call that timed out, a stream the caller closed).
  void Forget(uint64_t id);
  // Fails everything pending with `why` and closes the socket.
  void Close(const Status& why);
  bool broken() const { return state_ == State::kBroken; }
  const std::string& endpoint() const { return endpoint_; }

 private:
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

  boost::asio::io_context& io_;
  std::string endpoint_;
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
};

}  // namespace pharos::client
