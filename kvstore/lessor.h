// Lessor: the leader's clock on leases. Lease records (id, TTL, attached keys) are replicated
// state in MvccStore; when each lease expires is not — only the leader tracks it, here, and it
// expires a lease by proposing its revoke (DESIGN.md §4). A new leader starts every lease afresh
// (Promote: expiry = now + TTL), so a failover does not mass-expire services. The caller must
// confirm it still leads (a ReadIndex round) before acting on Renew or Expired: a deposed leader
// that keeps renewing is how etcd broke its own locks (etcd issue 15247).
//
// Thread rules: not thread-safe; one thread (the apply/raft side of the server) owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "proto/pharos.pb.h"

namespace pharos::kv {

class Lessor {
 public:
  explicit Lessor(const Clock* clock) : clock_(clock) {}

  // This node became leader: track every lease from now, each for its full TTL.
  void Promote(const std::vector<pb::LeaseRecord>& leases);
  // This node is no longer leader: it stops renewing and expiring.
  void Demote();
  bool primary() const { return primary_; }

  // Replicated changes, applied on every node (only the leader's clock matters).
  void OnGrant(int64_t id, int64_t ttl_seconds);
  void OnRevoke(int64_t id);

  // A keepalive: restarts the lease's TTL. Returns the TTL in seconds. kNotLeader when not the
  // leader, kLeaseNotFound for an unknown (or already expired and revoked) lease.
  Result<int64_t> Renew(int64_t id);
  // Whole seconds left (truncated, as etcd's); -1 when the lease is unknown. kNotLeader when not
  // the leader: only the leader's clock knows when a lease expires.
  Result<int64_t> RemainingSeconds(int64_t id) const;
  // Leases past their expiry, oldest first, at most `max`: the leader proposes their revokes.
  // A lease stays listed until its revoke is applied (OnRevoke).
  std::vector<int64_t> Expired(size_t max) const;
  // Every lease expires `d` later: for a time in which no keepalive could be served (the owning
  // thread was held up), which must not count against the leases.
  void Extend(std::chrono::nanoseconds d);

 private:
  struct Entry {
    int64_t ttl = 0;
    Clock::TimePoint expiry;
  };
  const Clock* clock_;
  bool primary_ = false;
  std::map<int64_t, Entry> leases_;
  std::set<std::pair<Clock::TimePoint, int64_t>> by_expiry_;
};

}  // namespace pharos::kv
