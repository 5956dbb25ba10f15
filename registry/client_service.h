// ClientService: the framed client protocol on TCP (DESIGN.md §5). Each connection carries many
// requests in flight; each frame is a length and an Envelope. A bad frame (unparsable, or over
// the size limit) closes that connection with a logged reason and harms no other. Requests in
// flight per connection are bounded: past the bound the request is answered RESOURCE_EXHAUSTED
// at once. So are the answers a connection's client has not read: past that bound the connection
// is not read until the client catches up (counted in pharos_client_read_pauses_total). A failed
// accept (out of file descriptors) is retried (pharos_client_accept_errors_total).
//
// Thread rules: runs on the I/O thread; the handler is called there, and Connection methods must
// be called there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "common/frame.h"
#include "common/status.h"
#include "proto/pharos.pb.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace pharos::registry {

class Connection {
 public:
  virtual ~Connection() = default;
  // Queues a response (or a stream message). Dropped silently once the connection is closed.
  virtual void Send(const pb::Envelope& envelope) = 0;
  // A request finished: frees its slot in the in-flight bound.
  virtual void Done() = 0;
  virtual bool open() const = 0;
  virtual uint64_t id() const = 0;
  virtual std::string peer() const = 0;
  // Bytes queued for the socket and not written yet: a client that reads slowly makes them grow.
  virtual size_t unsent_bytes() const = 0;
  // Runs `fn` once, on the I/O thread, when unsent_bytes() is at most `bytes` (at once if it is
  // now); never if the connection closes first.
  virtual void WhenUnsentAtMost(size_t bytes, std::function<void()> fn) = 0;
};

struct ClientServiceOptions {
  std::string listen = "127.0.0.1:2379";
  size_t max_frame_bytes = 3 * 512 * 1024;
  size_t max_in_flight_per_connection = 1024;
  // A connection whose client leaves this much unread stops being read until half of it is
  // written: answers to requests it kept sending would otherwise pile up in the member's memory.
  size_t pause_reading_at_unsent_bytes = 8 << 20;
  // An answer larger than clients accept is replaced by a TOO_LARGE error for its request.
  size_t max_answer_bytes = kMaxAnswerFrameBytes;
};

class ClientService {
 public:
  using Handler = std::function<void(std::shared_ptr<Connection>, pb::Envelope)>;
  using Closed = std::function<void(uint64_t connection_id)>;

  ClientService(boost::asio::io_context& io, ClientServiceOptions options, Handler handler,
                Closed closed);
  ~ClientService();
  Status Start();
  uint16_t port() const;
  // Stops accepting new connections (existing ones stay).
  void StopAccepting();
  // Closes every connection.
  void CloseAll();
  size_t connections() const;
  // Bytes queued for every client socket of the process and not written yet (any thread).
  static size_t UnsentBytes();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// An Envelope answering `request` with `status` (the body is left for the caller to set).
pb::Envelope Reply(const pb::Envelope& request, const Status& status,
                   const std::string& leader_hint = "");
pb::Code ToCode(StatusCode code);

}  // namespace pharos::registry
