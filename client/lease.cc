#include "client/lease.h"

#include "client/typed_call.h"

namespace pharos::client {

Result<pb::LeaseGrantResponse> Lease::Grant(int64_t ttl_seconds, int64_t id, CallOptions call) {
  pb::Envelope e;
  e.mutable_lease_grant()->set_ttl(ttl_seconds);
  e.mutable_lease_grant()->set_id(id);
  return TypedCall<pb::LeaseGrantResponse>(
      client_, std::move(e), std::move(call),
      [](pb::Envelope& r) { return r.mutable_lease_grant_response(); });
}

Result<pb::LeaseRevokeResponse> Lease::Revoke(int64_t id, CallOptions call) {
  pb::Envelope e;
  e.mutable_lease_revoke()->set_id(id);
  return TypedCall<pb::LeaseRevokeResponse>(
      client_, std::move(e), std::move(call),
      [](pb::Envelope& r) { return r.mutable_lease_revoke_response(); });
}

Result<pb::LeaseTimeToLiveResponse> Lease::TimeToLive(int64_t id, bool keys, CallOptions call) {
  pb::Envelope e;
  e.mutable_lease_time_to_live()->set_id(id);
  e.mutable_lease_time_to_live()->set_keys(keys);
  return TypedCall<pb::LeaseTimeToLiveResponse>(
      client_, std::move(e), std::move(call),
      [](pb::Envelope& r) { return r.mutable_lease_time_to_live_response(); });
}

Result<pb::LeaseLeasesResponse> Lease::Leases(CallOptions call) {
  pb::Envelope e;
  e.mutable_lease_leases();
  return TypedCall<pb::LeaseLeasesResponse>(
      client_, std::move(e), std::move(call),
      [](pb::Envelope& r) { return r.mutable_lease_leases_response(); });
}

Result<pb::LeaseKeepAliveResponse> Lease::KeepAliveOnce(int64_t id, CallOptions call) {
  pb::Envelope e;
  e.mutable_lease_keep_alive()->set_id(id);
  auto r = TypedCall<pb::LeaseKeepAliveResponse>(
      client_, std::move(e), std::move(call),
      [](pb::Envelope& r) { return r.mutable_lease_keep_alive_response(); });
  if (r.ok() && r->ttl() <= 0) {
    return Status(StatusCode::kLeaseNotFound, "lease expired or was revoked");
  }
  return r;
}

std::unique_ptr<LeaseKeepAlive> Lease::KeepAlive(int64_t id, Clock::TimePoint known_alive_until,
                                                 std::function<void(Status)> on_lost) {
  return std::make_unique<LeaseKeepAlive>(client_, id, known_alive_until, std::move(on_lost));
}

Result<std::unique_ptr<LeaseKeepAlive>> Lease::GrantAndKeepAlive(
    int64_t ttl_seconds, std::function<void(Status)> on_lost, int64_t id) {
  const auto sent = std::chrono::steady_clock::now();
  // A repeated grant leaves at worst a lease nobody keeps alive, which expires by itself.
  auto granted = Grant(ttl_seconds, id, {.retry = RetryPolicy::kAlways});
  if (!granted.ok()) return granted.status();
  return KeepAlive(granted->id(), sent + std::chrono::seconds(granted->ttl()), std::move(on_lost));
}

}  // namespace pharos::client
