// A place in a lock's or an election's line (see contender.h).
#include "tools/pharosctl/contender.h"

#include <cstdio>

#include "client/kv.h"
#include "client/lease.h"
#include "client/turn.h"
#include "client/watch.h"

namespace pharos::pharosctl {
namespace {

bool Transient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded ||
         s.code() == StatusCode::kNotLeader;
}

}  // namespace

Contender::Contender(client::Client& client, Signals& signals, std::string prefix,
                     int64_t ttl_seconds)
    : client_(client), signals_(signals), prefix_(std::move(prefix)), ttl_seconds_(ttl_seconds) {}

Contender::~Contender() { (void)Leave(); }

Status Contender::Join(const std::string& value) {
  auto session = client::Lease(client_).GrantAndKeepAlive(
      ttl_seconds_, [lost = lost_, signals = &signals_](Status) {
        lost->store(true);
        signals->Notify();
      });
  if (!session.ok()) return session.status();
  session_ = std::move(*session);
  lease_ = session_->id();
  key_ = client::ContenderKey(prefix_, lease_);

  client::KV kv(client_);
  client::Txn txn;
  txn.If(client::Compare::CreateRevision(key_, client::CompareOp::kEqual, 0))
      .Then(client::Op::Put(key_, value, {.lease = lease_}))
      .Else(client::Op::Get(key_));
  // The txn puts only when our key is absent, so repeating it after an unknown outcome is safe:
  // the second answer tells which way the first went.
  Status last = Status::Ok();
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto r = kv.Commit(txn);
    if (r.ok()) {
      if (r->succeeded()) {
        create_revision_ = r->header().revision();
      } else if (r->responses_size() == 1 && r->responses(0).response_range().kvs_size() == 1) {
        create_revision_ = r->responses(0).response_range().kvs(0).create_revision();
      } else {
        return Status::Internal("the txn that writes " + key_ + " answered neither way");
      }
      return Status::Ok();
    }
    last = r.status();
    if (last.code() != StatusCode::kOutcomeUnknown) break;
  }
  return last;
}

Result<bool> Contender::WaitForTurn() {
  client::KV kv(client_);
  auto interrupted = [this] { return signals_.received() > 0; };
  for (;;) {
    if (interrupted()) return false;
    if (lost()) return Status(StatusCode::kLeaseNotFound, "the session lease was lost");
    auto all = kv.Get(prefix_, {.prefix = true, .keys_only = true});
    if (!all.ok()) {
      if (!Transient(all.status())) return all.status();
      // The cluster is away: keep our place; the session's deadline decides when it is lost.
      signals_.WaitUntil([&] { return interrupted() || lost(); }, std::chrono::milliseconds(200));
      continue;
    }
    std::string predecessor;
    int64_t predecessor_revision = 0;
    bool mine = false;
    for (const auto& k : all->kvs()) {
      if (k.key() == key_) mine = true;
      if (k.create_revision() < create_revision_ && k.create_revision() > predecessor_revision) {
        predecessor = k.key();
        predecessor_revision = k.create_revision();
      }
    }
    if (!mine) return Status(StatusCode::kLeaseNotFound, key_ + " is gone (its lease expired)");
    if (predecessor.empty()) return true;

    // Wait for the deletion of the next older key only, so a release wakes one waiter.
    std::atomic<bool> moved{false};
    client::Watcher watch(
        client_, predecessor, {.start_revision = all->header().revision() + 1},
        [&](const std::vector<pb::Event>& events, int64_t) {
          for (const auto& e : events) {
            if (e.type() == pb::Event::DELETE) moved = true;
          }
          if (moved) signals_.Notify();
        },
        [&](const client::WatchError&) {
          moved = true;  // history compacted under us: list again
          signals_.Notify();
        });
    signals_.WaitUntil([&] { return moved.load() || interrupted() || lost(); });
  }
}

Status Contender::Leave() {
  session_.reset();  // stop renewing before the revoke
  if (lease_ == 0) return Status::Ok();
  const int64_t lease = lease_;
  lease_ = 0;
  auto revoked = client::Lease(client_).Revoke(lease);
  if (revoked.ok() || revoked.status().code() == StatusCode::kLeaseNotFound) {
    return Status::Ok();  // our key went with the lease
  }
  // The lease could not be revoked (it expires by itself); at least give up the key.
  auto deleted = client::KV(client_).Delete(key_);
  return deleted.ok() ? Status::Ok() : revoked.status();
}

}  // namespace pharos::pharosctl
