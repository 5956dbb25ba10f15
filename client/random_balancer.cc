#include "client/random_balancer.h"

namespace pharos::client {

std::optional<size_t> RandomBalancer::Choose(const PickRequest&) {
  // One draw does while it lands on an available instance; otherwise draw again among the
  // available ones. Each of the a available (u unavailable) instances is still picked with
  // probability 1/n + (u/n)(1/a) = 1/a, and the common case asks the hook once.
  const size_t first = RandomIndex(instances().size());
  if (IsAvailable(first)) return first;
  AvailableIndices(&available_);
  if (available_.empty()) return std::nullopt;
  return available_[RandomIndex(available_.size())];
}

}  // namespace pharos::client
