#include "client/lock.h"

#include "client/kv.h"
#include "client/turn.h"

namespace pharos::client {

Lock::Lock(Client& client, std::string name, LockOptions options)
    : client_(client),
      name_(std::move(name)),
      options_(std::move(options)),
      prefix_(options_.prefix + name_ + "/"),
      session_(client, prefix_, options_.ttl_seconds, [this] { OnSessionLost(); }) {}

Lock::~Lock() {
  if (held()) (void)Release();
  session_.Drop();
}

void Lock::OnSessionLost() {
  bool was_held = false;
  {
    std::lock_guard lock(mu_);
    was_held = held_;
    held_ = false;
  }
  if (was_held && options_.on_lost) options_.on_lost();
}

Result<int64_t> Lock::Enqueue(std::chrono::milliseconds timeout) {
  if (Status s = session_.Ensure(); !s.ok()) return s;
  const std::string key = session_.key();
  KV kv(client_);
  Txn txn;
  txn.If(Compare::CreateRevision(key, CompareOp::kEqual, 0))
      .Then(Op::Put(key, "", {.lease = session_.lease()}))
      .Else(Op::Get(key));
  // Create-if-absent, else read: repeating it when its outcome is unknown finds our own key.
  auto r = kv.Commit(txn, {.timeout = timeout, .retry = RetryPolicy::kAlways});
  if (!r.ok()) return r.status();
  if (r->succeeded()) return r->header().revision();
  // Our key is already there (an earlier attempt whose answer we lost): keep its place.
  if (r->responses_size() == 1 && r->responses(0).response_range().kvs_size() == 1) {
    return r->responses(0).response_range().kvs(0).create_revision();
  }
  return Status::Internal("lock txn answered neither way");
}

void Lock::Abandon() {
  // Leave the queue so the next contender is not stuck behind a key nobody will release.
  (void)KV(client_).Delete(session_.key());
}

Status Lock::Acquire(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto mine = Enqueue(timeout);
  if (!mine.ok()) {
    if (mine.status().code() == StatusCode::kOutcomeUnknown) Abandon();
    return mine.status();
  }
  Status waited = WaitForTurn(client_, prefix_, session_.key(), *mine, deadline);
  if (!waited.ok()) {
    Abandon();
    return waited;
  }
  std::lock_guard lock(mu_);
  held_ = true;
  token_ = *mine;
  return Status::Ok();
}

Status Lock::TryAcquire() {
  auto mine = Enqueue(std::chrono::seconds(5));
  if (!mine.ok()) {
    if (mine.status().code() == StatusCode::kOutcomeUnknown) Abandon();
    return mine.status();
  }
  auto all = KV(client_).Get(prefix_, {.prefix = true, .keys_only = true});
  if (!all.ok()) {
    Abandon();
    return all.status();
  }
  for (const auto& k : all->kvs()) {
    if (k.create_revision() < *mine) {
      Abandon();
      return Status::FailedPrecondition("lock " + name_ + " is held by another");
    }
  }
  std::lock_guard lock(mu_);
  held_ = true;
  token_ = *mine;
  return Status::Ok();
}

Status Lock::Release() {
  {
    std::lock_guard lock(mu_);
    if (!held_) return Status::FailedPrecondition("lock " + name_ + " is not held");
    held_ = false;
  }
  auto r = KV(client_).Delete(session_.key());
  if (r.ok()) return Status::Ok();
  // Our key may still be there, and the next Acquire would find it again and hand out the same
  // token for a second hold. Give up the whole session instead: revoking its lease deletes the
  // key (or, if the cluster cannot be reached, the lease runs out without keepalives), and the
  // next Acquire starts a new session with a new key and a higher token.
  session_.Drop();
  return r.status();
}

bool Lock::held() const {
  std::lock_guard lock(mu_);
  return held_ && std::chrono::steady_clock::now() < session_.deadline();
}

int64_t Lock::fencing_token() const {
  std::lock_guard lock(mu_);
  return token_;
}

std::chrono::steady_clock::time_point Lock::deadline() const { return session_.deadline(); }

}  // namespace pharos::client
