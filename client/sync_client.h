// SyncClient: the smallest client of the wire protocol — one blocking request at a time, on
// the caller's thread, with a deadline. It follows NOT_LEADER hints and moves to the next
// endpoint when one cannot be reached (both safe: nothing was proposed), and never retries a
// write whose outcome is unknown: a write whose connection failed after it was sent comes back
// OUTCOME_UNKNOWN. The process tests use it; the full SDK (async, many requests in flight on one
// connection, its own I/O thread) is client::Client.
//
// Thread rules: one thread at a time per SyncClient.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "client/client.h"
#include "common/result.h"
#include "common/trace.h"
#include "proto/pharos.pb.h"

namespace pharos::client {

class SyncClient {
 public:
  explicit SyncClient(std::vector<std::string> endpoints,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~SyncClient();

  // Sends `request` (its id and trace context are filled in) and returns the response envelope,
  // whose status may still be an error. A non-OK Result means no response arrived in time.
  Result<pb::Envelope> Call(pb::Envelope request);
  // The same, to one endpoint only, with no redirection.
  Result<pb::Envelope> CallEndpoint(const std::string& endpoint, pb::Envelope request);
  const std::string& current_endpoint() const { return endpoints_[current_]; }

 private:
  class Conn;
  Conn& ConnTo(const std::string& endpoint);

  std::vector<std::string> endpoints_;
  size_t current_ = 0;
  std::chrono::milliseconds timeout_;
  uint64_t next_id_ = 1;
  std::vector<std::unique_ptr<Conn>> conns_;
};

}  // namespace pharos::client
