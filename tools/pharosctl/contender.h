// Contender: one place in line under a lock or election prefix, taken exactly as the SDK's
// client::Lock and client::Election take theirs (key `<prefix><name>/<lease id in hex>` on a
// session lease, the oldest key holds; see DESIGN.md §6), so pharosctl and programs using the
// SDK contend for the same locks and elections.
//
// Why not client::Lock / client::Election themselves: their Acquire and Campaign block until a
// timeout and cannot be interrupted, but `pharosctl lock` and `elect` wait without a timeout and
// must leave the line at once on SIGINT/SIGTERM — revoking their lease — as etcdctl does. Here
// the wait also ends on a signal or on the loss of the session.
//
// Thread rules: Join/WaitForTurn/Leave from one thread (not the client's); lost() from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "client/client.h"
#include "client/lease_keepalive.h"
#include "common/result.h"
#include "tools/pharosctl/signals.h"

namespace pharos::pharosctl {

class Contender {
 public:
  // `prefix`: "/locks/<name>/" or "/elections/<name>/". `signals` is notified when the session
  // is lost, so a waiter wakes up.
  Contender(client::Client& client, Signals& signals, std::string prefix, int64_t ttl_seconds);
  // Leaves the line (revoking the session) if Leave() was not called.
  ~Contender();
  Contender(const Contender&) = delete;
  Contender& operator=(const Contender&) = delete;

  // A session lease kept alive, then our key with `value` (kept if it is already there).
  Status Join(const std::string& value);
  // Until every older key is gone: true, our turn; false, a signal came first. Errors: the
  // session was lost, or the cluster did not answer.
  Result<bool> WaitForTurn();
  // Stops renewing and revokes the session lease, which deletes our key in the same revision.
  Status Leave();

  const std::string& key() const { return key_; }
  int64_t create_revision() const { return create_revision_; }
  int64_t lease() const { return lease_; }
  // The session lease is gone (expired, revoked) or its local deadline passed unrenewed.
  bool lost() const { return lost_->load(); }

 private:
  client::Client& client_;
  Signals& signals_;
  std::string prefix_;
  int64_t ttl_seconds_;
  std::string key_;
  int64_t lease_ = 0;
  int64_t create_revision_ = 0;
  // Shared with the keepalive's callback, which may run on the client's thread.
  std::shared_ptr<std::atomic<bool>> lost_ = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<client::LeaseKeepAlive> session_;
};

}  // namespace pharos::pharosctl
