#include "client/power_of_two_choices_balancer.h"

namespace pharos::client {

std::optional<size_t> PowerOfTwoChoicesBalancer::Choose(const PickRequest&) {
  AvailableIndices(&available_);
  if (available_.empty()) return std::nullopt;
  if (available_.size() == 1) return available_[0];
  const size_t a = RandomIndex(available_.size());
  size_t b = RandomIndex(available_.size() - 1);
  if (b >= a) ++b;  // distinct from a, still uniform over the others
  return Load(available_[b]) < Load(available_[a]) ? available_[b] : available_[a];
}

}  // namespace pharos::client
