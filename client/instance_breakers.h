// InstanceBreakers: one circuit breaker per service instance, so one sick instance is taken out
// of rotation without punishing its healthy siblings. Breakers are created on first use with the
// same options and live as long as this object.
//
// A balancer filters with Available (its SetAvailability hook), which takes no half-open probe;
// the call itself then goes through For(id).TryAcquire or Run, which does.
//
// Thread rules: thread-safe. References returned by For stay valid for this object's lifetime.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

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

  CircuitBreaker& For(const std::string& instance_id);

  // True for an instance never seen: it has no failures against it.
  bool Available(const std::string& instance_id) const;

  size_t size() const;

 private:
  const CircuitBreaker* Find(const std::string& instance_id) const;

  const CircuitBreakerOptions options_;
  const Clock* const clock_;
  const StateChangeFn on_state_change_;

  mutable std::mutex mu_;
  // unique_ptr so a breaker never moves when the map rehashes.
  std::unordered_map<std::string, std::unique_ptr<CircuitBreaker>> breakers_;
};

}  // namespace pharos::client
