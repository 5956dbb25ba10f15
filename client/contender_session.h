// ContenderSession: what a Lock holder or an Election candidate holds while it contends
// (DESIGN.md §6, etcd's concurrency.Session): a lease kept alive, and the contender's key under
// the recipe's prefix, named after the lease. Lock and Election each own one.
//
// Thread rules: Ensure and Drop block; call them from one thread at a time, never from the
// client's callbacks, and never with a lock held that `on_lost` takes. lease(), key() and
// deadline() from any thread. `on_lost` runs once per lease, on the client's I/O thread, with no
// lock of the session's held.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "client/client.h"
#include "client/lease_keepalive.h"
#include "common/status.h"

namespace pharos::client {

class ContenderSession {
 public:
  ContenderSession(Client& client, std::string prefix, int64_t ttl_seconds,
                   std::function<void()> on_lost);
  // Drop().
  ~ContenderSession();
  ContenderSession(const ContenderSession&) = delete;
  ContenderSession& operator=(const ContenderSession&) = delete;

  // A live session: the current one, or a new lease (and so a new key) if there is none or the
  // last one was lost.
  Status Ensure();
  // Stops the keepalive and revokes the lease, which deletes the key if it is still there.
  void Drop();

  // The lease and the key named after it; 0 and empty before the first Ensure.
  int64_t lease() const;
  std::string key() const;
  // The lease's conservative local deadline (send time of its last acknowledged keepalive + TTL);
  // the epoch without a lease.
  std::chrono::steady_clock::time_point deadline() const;

 private:
  Client& client_;
  std::string prefix_;
  int64_t ttl_seconds_;
  std::function<void()> on_lost_;
  mutable std::mutex mu_;
  std::unique_ptr<LeaseKeepAlive> keepalive_;  // guarded by mu_
  std::string key_;                            // guarded by mu_
};

}  // namespace pharos::client
