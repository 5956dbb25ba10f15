// Lease: grant, revoke, time-to-live and list (etcd's Lease service), and a lease kept alive in
// the background (LeaseKeepAlive), which tells its owner once when the lease is lost.
//
// Thread rules: as Client — any thread.
// Like everything built on a Client, it must be destroyed before that Client.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "client/client.h"
#include "client/lease_keepalive.h"
#include "common/result.h"
#include "proto/pharos.pb.h"

namespace pharos::client {

class Lease {
 public:
  explicit Lease(Client& client) : client_(client) {}

  // `id` 0: the server picks one.
  Result<pb::LeaseGrantResponse> Grant(int64_t ttl_seconds, int64_t id = 0, CallOptions call = {});
  Result<pb::LeaseRevokeResponse> Revoke(int64_t id, CallOptions call = {});
  // TTL -1 in the response: the lease does not exist (any more).
  Result<pb::LeaseTimeToLiveResponse> TimeToLive(int64_t id, bool keys = false,
                                                 CallOptions call = {});
  Result<pb::LeaseLeasesResponse> Leases(CallOptions call = {});
  Result<pb::LeaseKeepAliveResponse> KeepAliveOnce(int64_t id, CallOptions call = {});

  // Keeps lease `id` alive until the handle is destroyed. `known_alive_until` is how long the
  // caller knows the lease lives (its grant's send time + TTL); `on_lost` runs once, on the
  // client's thread, when the lease is gone or its deadline passes unrenewed.
  std::unique_ptr<LeaseKeepAlive> KeepAlive(int64_t id, Clock::TimePoint known_alive_until,
                                            std::function<void(Status)> on_lost);
  // Grant and keep alive: the usual session of a service instance, a lock holder, a candidate.
  Result<std::unique_ptr<LeaseKeepAlive>> GrantAndKeepAlive(int64_t ttl_seconds,
                                                            std::function<void(Status)> on_lost,
                                                            int64_t id = 0);

 private:
  Client& client_;
};

}  // namespace pharos::client
