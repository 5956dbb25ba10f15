// InstanceBreakers: one circuit breaker per service instance, so one sick instance is taken out
// of rotation without punishing its healthy siblings. Breakers are created on first use with the
// same options.
//
// A balancer filters with Available (its SetAvailability hook), which takes no half-open probe;
// the call itself then goes through For(id)->TryAcquire or Run, which does.
//
// Instances come and go, and a breaker per id ever seen would grow without end, so whoever
// tracks the live instances calls Retain with their ids whenever the set changes, typically
// from Discovery's on_change next to the balancer's update:
//   [&](const InstanceChange&) {
//     std::vector<ServiceInstance> live = discovery.Instances();
//     balancer->Update(live);
//     std::vector<std::string> ids;
//     for (const ServiceInstance& i : live) ids.push_back(i.id);
//     breakers.Retain(ids);
//   }
// Retain may run while calls are in flight on other threads: a dropped breaker lives on until the
// permits it issued are reported, and until the last shared_ptr from For is gone. An instance that
// comes back under the same id starts with a fresh, closed breaker; one picked from a stale list
// just after Retain gets a new breaker that the next Retain drops.
//
// Thread rules: thread-safe. Permits from these breakers, and on_state_change, must not outlive
// this object.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "client/circuit_breaker.h"
#include "common/clock.h"

namespace pharos::client {

class InstanceBreakers {
 public:
  using StateChangeFn =
      std::function<void(const std::string& instance_id, CircuitState from, CircuitState to)>;

  // options.on_state_change is replaced by on_state_change, which is told which instance moved.
  explicit InstanceBreakers(CircuitBreakerOptions options = {},
                            const Clock* clock = SystemClock::Instance(),
                            StateChangeFn on_state_change = {});

  // The instance's breaker, created on first use (and on first use after Retain dropped it).
  // Shared, so that a concurrent Retain cannot pull it from under the caller.
  std::shared_ptr<CircuitBreaker> For(const std::string& instance_id);

  // True for an instance never seen: it has no failures against it.
  bool Available(const std::string& instance_id) const;

  // Drops the breakers of every instance not in `live_ids`.
  void Retain(const std::vector<std::string>& live_ids);

  size_t size() const;

 private:
  std::shared_ptr<const CircuitBreaker> Find(const std::string& instance_id) const;

  const CircuitBreakerOptions options_;
  const Clock* const clock_;
  const StateChangeFn on_state_change_;

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<CircuitBreaker>> breakers_;
};

}  // namespace pharos::client
