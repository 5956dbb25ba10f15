#include "kvstore/lessor.h"

namespace pharos::kv {
namespace {

// `now` + `ttl_seconds`, or the end of time if that does not fit. New grants are capped at
// kMaxLeaseTtlSeconds, which fits; a lease granted before that cap (still in a store, granted
// again at every Promote) could be larger, and overflowing the nanosecond count is undefined
// behaviour that in practice makes the lease expire at once.
Clock::TimePoint ExpiryAfter(Clock::TimePoint now, int64_t ttl_seconds) {
  const int64_t room = (Clock::TimePoint::max() - now) / std::chrono::seconds(1);
  if (ttl_seconds >= room) return Clock::TimePoint::max();
  return now + std::chrono::seconds(ttl_seconds);
}

}  // namespace

void Lessor::Promote(const std::vector<pb::LeaseRecord>& leases) {
  primary_ = true;
  leases_.clear();
  by_expiry_.clear();
  for (const pb::LeaseRecord& r : leases) OnGrant(r.id(), r.ttl());
}

void Lessor::Demote() { primary_ = false; }

void Lessor::OnGrant(int64_t id, int64_t ttl_seconds) {
  OnRevoke(id);
  Entry e{ttl_seconds, ExpiryAfter(clock_->Now(), ttl_seconds)};
  leases_[id] = e;
  by_expiry_.insert({e.expiry, id});
}

void Lessor::OnRevoke(int64_t id) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return;
  by_expiry_.erase({it->second.expiry, id});
  leases_.erase(it);
}

Result<int64_t> Lessor::Renew(int64_t id) {
  if (!primary_) return Status(StatusCode::kNotLeader, "not the leader");
  auto it = leases_.find(id);
  if (it == leases_.end()) {
    return Status(StatusCode::kLeaseNotFound, "lease " + std::to_string(id) + " not found");
  }
  Entry& e = it->second;
  // An expired lease whose revoke is on its way is not revived.
  if (e.expiry <= clock_->Now()) {
    return Status(StatusCode::kLeaseNotFound, "lease " + std::to_string(id) + " expired");
  }
  by_expiry_.erase({e.expiry, id});
  e.expiry = ExpiryAfter(clock_->Now(), e.ttl);
  by_expiry_.insert({e.expiry, id});
  return e.ttl;
}

Result<int64_t> Lessor::RemainingSeconds(int64_t id) const {
  // Only the leader's clock counts: a demoted leader's would go on answering from expiries it no
  // longer keeps (etcd returns an error here too, PR #17642).
  if (!primary_) return Status(StatusCode::kNotLeader, "not the leader");
  auto it = leases_.find(id);
  if (it == leases_.end()) return int64_t{-1};
  const auto left = it->second.expiry - clock_->Now();
  if (left <= std::chrono::nanoseconds::zero()) return int64_t{0};
  // Whole seconds, truncated, as etcd reports them.
  return std::chrono::duration_cast<std::chrono::seconds>(left).count();
}

void Lessor::Extend(std::chrono::nanoseconds d) {
  if (d <= std::chrono::nanoseconds::zero()) return;
  by_expiry_.clear();
  for (auto& [id, e] : leases_) {
    // Past the clock's range, as ExpiryAfter does: a lease that far out never expires anyway.
    e.expiry = e.expiry > Clock::TimePoint::max() - d ? Clock::TimePoint::max() : e.expiry + d;
    by_expiry_.insert({e.expiry, id});
  }
}

std::vector<int64_t> Lessor::Expired(size_t max) const {
  std::vector<int64_t> out;
  if (!primary_) return out;
  const Clock::TimePoint now = clock_->Now();
  for (const auto& [expiry, id] : by_expiry_) {
    if (expiry > now || out.size() >= max) break;
    out.push_back(id);
  }
  return out;
}

}  // namespace pharos::kv
