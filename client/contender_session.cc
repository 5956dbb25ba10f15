#include "client/contender_session.h"

#include "client/lease.h"
#include "client/turn.h"

namespace pharos::client {

ContenderSession::ContenderSession(Client& client, std::string prefix, int64_t ttl_seconds,
                                   std::function<void()> on_lost)
    : client_(client),
      prefix_(std::move(prefix)),
      ttl_seconds_(ttl_seconds),
      on_lost_(std::move(on_lost)) {}

ContenderSession::~ContenderSession() { Drop(); }

Status ContenderSession::Ensure() {
  std::unique_ptr<LeaseKeepAlive> old;
  {
    std::lock_guard lock(mu_);
    if (keepalive_ && !keepalive_->lost()) return Status::Ok();
    old = std::move(keepalive_);
  }
  // Outside mu_: destroying a keepalive waits for its running callback.
  old.reset();
  auto granted = Lease(client_).GrantAndKeepAlive(ttl_seconds_, [this](Status) {
    if (on_lost_) on_lost_();
  });
  if (!granted.ok()) return granted.status();
  std::lock_guard lock(mu_);
  keepalive_ = std::move(*granted);
  key_ = ContenderKey(prefix_, keepalive_->id());
  return Status::Ok();
}

void ContenderSession::Drop() {
  std::unique_ptr<LeaseKeepAlive> keepalive;
  {
    std::lock_guard lock(mu_);
    keepalive = std::move(keepalive_);
  }
  if (!keepalive) return;
  const int64_t lease = keepalive->id();
  keepalive.reset();
  (void)Lease(client_).Revoke(lease);
}

int64_t ContenderSession::lease() const {
  std::lock_guard lock(mu_);
  return keepalive_ ? keepalive_->id() : 0;
}

std::string ContenderSession::key() const {
  std::lock_guard lock(mu_);
  return key_;
}

std::chrono::steady_clock::time_point ContenderSession::deadline() const {
  std::lock_guard lock(mu_);
  return keepalive_ ? keepalive_->deadline() : std::chrono::steady_clock::time_point{};
}

}  // namespace pharos::client
