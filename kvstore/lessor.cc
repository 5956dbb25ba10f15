#include "kvstore/lessor.h"

namespace pharos::kv {

void Lessor::Promote(const std::vector<pb::LeaseRecord>& leases) {
  primary_ = true;
  leases_.clear();
  by_expiry_.clear();
  for (const pb::LeaseRecord& r : leases) OnGrant(r.id(), r.ttl());
}

void Lessor::Demote() { primary_ = false; }

void Lessor::OnGrant(int64_t id, int64_t ttl_seconds) {
  OnRevoke(id);
  Entry e{ttl_seconds, clock_->Now() + std::chrono::seconds(ttl_seconds)};
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
  e.expiry = clock_->Now() + std::chrono::seconds(e.ttl);
  by_expiry_.insert({e.expiry, id});
  return e.ttl;
}

int64_t Lessor::RemainingSeconds(int64_t id) const {
  auto it = leases_.find(id);
  if (it == leases_.end()) return -1;
  const auto left = it->second.expiry - clock_->Now();
  if (left <= std::chrono::nanoseconds::zero()) return 0;
  return std::chrono::ceil<std::chrono::seconds>(left).count();
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
