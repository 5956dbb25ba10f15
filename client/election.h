// Election: leader election as etcd's concurrency recipe builds it (DESIGN.md §6). Candidates
// write `<prefix><name>/<lease id>` with their session lease; the oldest key leads, and its value
// is the leader's proclamation. When the leader's process dies its lease expires, its key goes,
// and the next candidate in line takes over. Observe streams who leads.
//
// Thread rules: Campaign/Proclaim/Resign/Leader block: one thread at a time, never from the
// client's callbacks. is_leader() from any thread.
// Like everything built on a Client, it must be destroyed before that Client.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "client/client.h"
#include "client/contender_session.h"
#include "client/watch.h"
#include "common/result.h"
#include "proto/pharos.pb.h"

namespace pharos::client {

struct ElectionOptions {
  std::string prefix = "/elections/";
  int64_t ttl_seconds = 10;
  // Leadership lost without Resign (the session's lease died).
  std::function<void()> on_lost;
};

class Election {
 public:
  Election(Client& client, std::string name, ElectionOptions options = {});
  // Resigns if leading and revokes the session lease.
  ~Election();
  Election(const Election&) = delete;
  Election& operator=(const Election&) = delete;

  // Blocks until this candidate leads (OK) or `timeout` passes.
  Status Campaign(const std::string& value, std::chrono::milliseconds timeout);
  // Changes the leader's value; FAILED_PRECONDITION when not leading.
  Status Proclaim(const std::string& value);
  Status Resign();
  bool is_leader() const;
  // The current leader's key and value (nullopt: nobody leads).
  Result<std::optional<pb::KeyValue>> Leader();

  // Calls back with every change of leader or of its value (nullopt: nobody leads), on the
  // client's thread, in order. Observing stops when the handle is destroyed, and only then: a
  // watch that ends (compacted) is replaced, and a failed read is retried.
  class Observer {
   public:
    virtual ~Observer() = default;
  };
  std::unique_ptr<Observer> Observe(std::function<void(const std::optional<pb::KeyValue>&)> cb);

 private:
  // The session's lease is gone: leadership, if held, is lost.
  void OnSessionLost();

  Client& client_;
  std::string name_;
  ElectionOptions options_;
  std::string prefix_;
  int64_t create_revision_ = 0;
  mutable std::mutex mu_;
  bool leading_ = false;  // guarded by mu_
  // Last: its lost callback reaches the members above.
  ContenderSession session_;
};

}  // namespace pharos::client
