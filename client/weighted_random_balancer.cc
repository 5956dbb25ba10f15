#include "client/weighted_random_balancer.h"

#include <cstdint>
#include <random>

namespace pharos::client {

std::optional<size_t> WeightedRandomBalancer::Choose(const PickRequest&) {
  eligible_.clear();
  uint64_t total = 0;
  for (size_t i = 0; i < instances().size(); ++i) {
    if (instances()[i].weight > 0 && IsAvailable(i)) {
      eligible_.push_back(i);
      total += instances()[i].weight;
    }
  }
  if (total == 0) return std::nullopt;
  uint64_t point = std::uniform_int_distribution<uint64_t>(0, total - 1)(rng());
  for (size_t i : eligible_) {
    const uint64_t weight = instances()[i].weight;
    if (point < weight) return i;
    point -= weight;
  }
  return eligible_.back();  // not reached: point < total, the sum of the weights walked
}

}  // namespace pharos::client
