// Discovery: the live instances of one service, kept in a local cache from a list and a watch
// of `<prefix><service>/` (a PrefixCache), so picking an instance never waits on the network and
// the cache stays exact across server failovers and reconnects. Records that are not valid
// instance JSON are not instances: one never reported, on_change says nothing of; a reported
// one overwritten with such a record is reported kRemoved (it left Instances()), and kAdded
// when a valid record comes back. Feed a balancer from it:
//   Discovery d(client, "greeter", {.on_change = [&](auto&) { balancer->Update(d.Instances()); }});
// on_change may read `d` from the first change on, which can come before the constructor
// returns, and until the destructor has returned.
//
// Thread rules: Instances()/Find() from any thread; callbacks on the client's I/O thread.
// Destroy from any thread except a callback.
// Like everything built on a Client, it must be destroyed before that Client.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/prefix_cache.h"
#include "client/service_instance.h"

namespace pharos::client {

struct InstanceChange {
  enum class Kind { kAdded, kUpdated, kRemoved };
  Kind kind;
  ServiceInstance instance;  // for kRemoved: only id and service are known for sure
};

struct DiscoveryOptions {
  std::string prefix = "/services/";
  std::function<void(const InstanceChange& change)> on_change;
};

class Discovery {
 public:
  Discovery(Client& client, std::string service, DiscoveryOptions options = {});
  ~Discovery();

  // Waits for the first list.
  Status WaitReady(std::chrono::milliseconds timeout);
  std::vector<ServiceInstance> Instances() const;
  std::optional<ServiceInstance> Find(const std::string& instance_id) const;
  int64_t revision() const { return cache_.revision(); }

 private:
  void OnChange(const std::string& key, const std::optional<std::string>& value);

  std::string service_;
  std::string key_prefix_;
  DiscoveryOptions options_;
  std::set<std::string> known_;  // instance ids reported and not removed since; I/O thread
  // Last, so that what OnChange touches exists before it and outlives it.
  PrefixCache cache_;
};

}  // namespace pharos::client
