// Lock: a distributed mutex as etcd's concurrency recipe builds it (DESIGN.md §6). Each holder
// writes `<prefix><name>/<lease id>` with its session lease and waits for every older key to go;
// the fencing token is its key's create revision, so a resource that remembers the highest
// token it saw can refuse a stale holder. A holder cannot know the instant its lease dies, so it
// keeps a conservative deadline (the send time of its last acknowledged keepalive + TTL) and
// considers the lock lost when it passes or the lease is gone; `on_lost` then runs once.
//
// Thread rules: Acquire/TryAcquire/Release block: call them from one thread at a time, never
// from the client's callbacks. held()/fencing_token()/deadline() from any thread.
// Like everything built on a Client, it must be destroyed before that Client.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "client/client.h"
#include "client/contender_session.h"
#include "common/status.h"

namespace pharos::client {

struct LockOptions {
  std::string prefix = "/locks/";
  int64_t ttl_seconds = 10;
  std::function<void()> on_lost;
};

class Lock {
 public:
  Lock(Client& client, std::string name, LockOptions options = {});
  // Releases the lock if held and revokes the session lease.
  ~Lock();
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  // Waits up to `timeout` for the lock; DEADLINE_EXCEEDED if it did not come.
  Status Acquire(std::chrono::milliseconds timeout);
  // Takes the lock only if nobody holds it; FAILED_PRECONDITION otherwise.
  Status TryAcquire();
  Status Release();

  bool held() const;
  int64_t fencing_token() const;
  std::chrono::steady_clock::time_point deadline() const;
  std::string key() const { return session_.key(); }

 private:
  // Writes our key (if absent) and returns its create revision.
  Result<int64_t> Enqueue(std::chrono::milliseconds timeout);
  void Abandon();
  // The session's lease is gone: the lock, if held, is lost.
  void OnSessionLost();

  Client& client_;
  std::string name_;
  LockOptions options_;
  std::string prefix_;  // <prefix><name>/
  mutable std::mutex mu_;
  bool held_ = false;  // guarded by mu_
  int64_t token_ = 0;  // guarded by mu_
  // Last: its lost callback reaches the members above.
  ContenderSession session_;
};

}  // namespace pharos::client
