#include "client/round_robin_balancer.h"

namespace pharos::client {

RoundRobinBalancer::RoundRobinBalancer(const BalancerOptions& options)
    : Balancer(options), next_(static_cast<size_t>(rng()())) {}

std::optional<size_t> RoundRobinBalancer::Choose(const PickRequest&) {
  const size_t n = instances().size();
  for (size_t step = 0; step < n; ++step) {
    const size_t i = (next_ + step) % n;
    if (IsAvailable(i)) {
      // Resuming after the chosen one (not after the skipped ones) keeps every available
      // instance at exactly one pick per cycle while others are out.
      next_ = i + 1;
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace pharos::client
