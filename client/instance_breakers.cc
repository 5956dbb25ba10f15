#include "client/instance_breakers.h"

#include <utility>

namespace pharos::client {

InstanceBreakers::InstanceBreakers(CircuitBreakerOptions options, const Clock* clock,
                                   StateChangeFn on_state_change)
    : options_(std::move(options)), clock_(clock), on_state_change_(std::move(on_state_change)) {}

CircuitBreaker& InstanceBreakers::For(const std::string& instance_id) {
  std::lock_guard lock(mu_);
  auto& slot = breakers_[instance_id];
  if (slot == nullptr) {
    CircuitBreakerOptions options = options_;
    options.on_state_change = nullptr;
    if (on_state_change_) {
      options.on_state_change = [this, instance_id](CircuitState from, CircuitState to) {
        on_state_change_(instance_id, from, to);
      };
    }
    slot = std::make_unique<CircuitBreaker>(std::move(options), clock_);
  }
  return *slot;
}

bool InstanceBreakers::Available(const std::string& instance_id) const {
  const CircuitBreaker* breaker = Find(instance_id);
  // Asked outside mu_: the breaker has its own lock and never goes away.
  return breaker == nullptr || breaker->Available();
}

size_t InstanceBreakers::size() const {
  std::lock_guard lock(mu_);
  return breakers_.size();
}

const CircuitBreaker* InstanceBreakers::Find(const std::string& instance_id) const {
  std::lock_guard lock(mu_);
  auto it = breakers_.find(instance_id);
  return it == breakers_.end() ? nullptr : it->second.get();
}

}  // namespace pharos::client
