// Server maintenance (DESIGN.md §4, §5): what keeps a long-running member within bounds.
// - Auto-compaction: the leader asks its AutoCompactor on every sweep and proposes the compaction
//   it names, one at a time.
// - The backend quota: each member measures its own backend every 100 ms; one over
//   --quota-backend-bytes raises the NOSPACE alarm through Raft (so every member learns it, and
//   it survives restarts), and while any NOSPACE alarm is up the leader refuses writes that add
//   data — puts, txns with a put, lease grants — with NO_SPACE. Deletes, compactions, revokes and
//   reads still work, so an operator can reclaim space, defragment and disarm.
// - Defragment: rewrites this member's backend so freed space returns to the file system.
// - HashKV: this member's hash of its history up to a revision, which members compare.
#include <spdlog/spdlog.h>

#include "common/asio.h"
#include "registry/applier.h"
#include "registry/auto_compactor.h"
#include "registry/client_service.h"
#include "registry/raft_driver.h"
#include "registry/server.h"
#include "registry/storage_engine.h"

namespace pharos::registry {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// Also run from the write path (Propose), so a fast writer overshoots the quota by at most this
// long of writes.
constexpr auto kQuotaCheckInterval = std::chrono::milliseconds(100);
constexpr auto kAlarmRetryInterval = std::chrono::seconds(1);
constexpr auto kCompactionTimeout = std::chrono::seconds(10);

bool AddsData(const pb::TxnRequest& txn) {
  for (const auto* ops : {&txn.success(), &txn.failure()}) {
    for (const pb::RequestOp& op : *ops) {
      if (op.has_request_put()) return true;
    }
  }
  return false;
}

}  // namespace

void Server::AutoCompact() {
  if (soft_.role != raft::Role::kLeader || shutting_down_) return;
  const auto now = Clock::now();
  if (compaction_request_ != 0 && now < compaction_deadline_) return;  // one at a time
  compaction_request_ = 0;
  const auto target = compactor_->Next(now, applier_->revision(), applier_->compact_revision());
  if (!target) return;
  pb::RaftRequest req;
  Stamp(req);
  req.mutable_compaction()->set_revision(*target);
  compaction_request_ = req.id();
  compaction_deadline_ = now + kCompactionTimeout;
  driver_->Propose(req.SerializeAsString(), [this, request_id = req.id()](Status) {
    if (compaction_request_ == request_id) compaction_request_ = 0;  // the next sweep retries
  });
  spdlog::info("auto-compaction: compacting history to revision {} (current {})", *target,
               applier_->revision());
}

void Server::CheckQuota() {
  const auto now = Clock::now();
  if (now < next_quota_check_) return;
  next_quota_check_ = now + kQuotaCheckInterval;
  backend_bytes_ = storage_->BackendSizeBytes();
  if (backend_bytes_ <= static_cast<uint64_t>(config_.quota_backend_bytes)) return;
  for (const pb::AlarmMember& a : alarms_) {
    if (a.member_id() == config_.member_id && a.alarm() == pb::NOSPACE) return;  // already up
  }
  if (now < next_alarm_proposal_) return;
  next_alarm_proposal_ = now + kAlarmRetryInterval;
  spdlog::warn("backend is {} bytes, over the {} byte quota: raising the NOSPACE alarm",
               backend_bytes_, config_.quota_backend_bytes);
  pb::RaftRequest req;
  Stamp(req);
  req.mutable_alarm()->set_action(pb::AlarmRequest::ACTIVATE);
  req.mutable_alarm()->set_member_id(config_.member_id);
  req.mutable_alarm()->set_alarm(pb::NOSPACE);
  (void)driver_->ProposeOrForward(req.SerializeAsString());
}

bool Server::RefusedForSpace(const pb::RaftRequest& req) const {
  if (!req.has_put() && !req.has_lease_grant() && !(req.has_txn() && AddsData(req.txn()))) {
    return false;
  }
  // The leader's own backend counts before its alarm has committed.
  if (backend_bytes_ > static_cast<uint64_t>(config_.quota_backend_bytes)) return true;
  for (const pb::AlarmMember& a : alarms_) {
    if (a.alarm() == pb::NOSPACE) return true;
  }
  return false;
}

void Server::OnAlarms(std::vector<pb::AlarmMember> alarms) { alarms_ = std::move(alarms); }

void Server::HandleAlarm(std::shared_ptr<Connection> c, pb::Envelope env) {
  const pb::AlarmRequest& a = env.alarm();
  if (a.action() == pb::AlarmRequest::GET) {
    pb::Envelope reply = Reply(env, Status::Ok());
    auto* r = reply.mutable_alarm_response();
    *r->mutable_header() = Header(applier_->revision());
    for (const pb::AlarmMember& m : alarms_) *r->add_alarms() = m;
    return Respond(c, std::move(reply));
  }
  if (a.action() == pb::AlarmRequest::ACTIVATE && a.alarm() == pb::ALARM_NONE) {
    return Fail(c, env, Status::InvalidArgument("raising an alarm needs its type"));
  }
  pb::RaftRequest req;
  *req.mutable_alarm() = a;
  Propose(c, env, std::move(req));
}

void Server::HandleDefragment(std::shared_ptr<Connection> c, pb::Envelope env) {
  std::weak_ptr<bool> alive = alive_;
  // On the apply thread, in order with applies: nothing writes the backend meanwhile.
  applier_->Run([this, c, env, alive](kv::MvccStore& store, kv::WatchHub&, kv::Lessor&) {
    const uint64_t before = storage_->BackendSizeBytes();
    const auto started = Clock::now();
    const Status s = storage_->Defragment();
    const uint64_t after = storage_->BackendSizeBytes();
    const int64_t rev = store.revision();
    spdlog::info(
        "defragmented the backend in {} ms: {} -> {} bytes ({})",
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count(),
        before, after, s.ok() ? "OK" : s.ToString());
    asio::post(io_, [this, c, env, alive, s, before, after, rev] {
      if (alive.expired()) return;
      backend_bytes_ = after;
      pb::Envelope reply = Reply(env, s);
      auto* r = reply.mutable_defragment_response();
      *r->mutable_header() = Header(rev);
      r->set_backend_bytes_before(static_cast<int64_t>(before));
      r->set_backend_bytes_after(static_cast<int64_t>(after));
      Respond(c, std::move(reply));
    });
  });
}

void Server::HandleHashKV(std::shared_ptr<Connection> c, pb::Envelope env) {
  std::weak_ptr<bool> alive = alive_;
  applier_->Run([this, c, env, alive](kv::MvccStore& store, kv::WatchHub&, kv::Lessor&) {
    auto hash = store.HashKV(env.hash_kv().revision());
    const int64_t rev = store.revision();
    const int64_t compacted = store.compact_revision();
    asio::post(io_, [this, c, env, alive, hash, rev, compacted] {
      if (alive.expired()) return;
      pb::Envelope reply = Reply(env, hash.ok() ? Status::Ok() : hash.status());
      auto* r = reply.mutable_hash_kv_response();
      *r->mutable_header() = Header(rev);
      if (hash.ok()) r->set_hash(*hash);
      r->set_compact_revision(compacted);
      Respond(c, std::move(reply));
    });
  });
}

}  // namespace pharos::registry
