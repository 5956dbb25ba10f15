#include "client/instance_breakers.h"

#include <unordered_set>
#include <utility>

namespace pharos::client {

InstanceBreakers::InstanceBreakers(CircuitBreakerOptions options, const Clock* clock,
                                   StateChangeFn on_state_change)
    : options_(std::move(options)), clock_(clock), on_state_change_(std::move(on_state_change)) {}

std::shared_ptr<CircuitBreaker> InstanceBreakers::For(const std::string& instance_id) {
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
    // make_shared, so that the breaker's permits can keep it alive (CallGuard).
    slot = std::make_shared<CircuitBreaker>(std::move(options), clock_);
  }
  return slot;
}

bool InstanceBreakers::Available(const std::string& instance_id) const {
  // Asked outside mu_: the breaker has its own lock, and the copy keeps it alive through Retain.
  const std::shared_ptr<const CircuitBreaker> breaker = Find(instance_id);
  return breaker == nullptr || breaker->Available();
}

void InstanceBreakers::Retain(const std::vector<std::string>& live_ids) {
  const std::unordered_set<std::string> live(live_ids.begin(), live_ids.end());
  // Destroyed outside mu_: a breaker's destructor is no business of the lock.
  std::vector<std::shared_ptr<CircuitBreaker>> dropped;
  std::lock_guard lock(mu_);
  for (auto it = breakers_.begin(); it != breakers_.end();) {
    if (live.count(it->first)) {
      ++it;
    } else {
      dropped.push_back(std::move(it->second));
      it = breakers_.erase(it);
    }
  }
}

size_t InstanceBreakers::size() const {
  std::lock_guard lock(mu_);
  return breakers_.size();
}

std::shared_ptr<const CircuitBreaker> InstanceBreakers::Find(const std::string& instance_id) const {
  std::lock_guard lock(mu_);
  auto it = breakers_.find(instance_id);
  return it == breakers_.end() ? nullptr : it->second;
}

}  // namespace pharos::client
