// FakeServer: a scripted stand-in for one pharosd on a free loopback port, for the SDK's unit
// tests. Each request is answered by the script: a reply, silence, or the connection closed;
// Push sends what no request asks for.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "proto/pharos.pb.h"

namespace pharos::testing {

class FakeServer {
 public:
  struct Action {
    enum class Kind { kReply, kIgnore, kClose } kind = Kind::kReply;
    pb::Envelope reply;  // its id is filled in
  };
  using Script = std::function<Action(const pb::Envelope& request)>;

  explicit FakeServer(Script script);
  ~FakeServer();

  std::string endpoint() const;
  // Sends `message` as it is on every open connection: a stream's later messages (a watch's
  // events, or a reply the script held back), which answer no request of their own.
  void Push(const pb::Envelope& message);
  int requests() const { return requests_; }
  // The first request received for which `pred` holds, waiting up to `deadline` for it.
  std::optional<pb::Envelope> WaitForRequest(
      const std::function<bool(const pb::Envelope&)>& pred,
      std::chrono::milliseconds deadline = std::chrono::seconds(5)) const;
  int connections() const { return connections_; }

  static Action Ok(pb::Envelope reply = {});
  static Action Error(pb::Code code, const std::string& message, const std::string& hint = "");
  // A watch's `created` reply: the id the member gave it and the revision it was created at.
  static pb::Envelope WatchCreated(int64_t watch_id, int64_t revision);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<int> requests_{0};
  std::atomic<int> connections_{0};
};

}  // namespace pharos::testing
