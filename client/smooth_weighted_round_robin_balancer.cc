#include "client/smooth_weighted_round_robin_balancer.h"

namespace pharos::client {

void SmoothWeightedRoundRobinBalancer::InstancesChanged(
    const std::vector<std::optional<size_t>>& previous_position) {
  std::vector<int64_t> current(previous_position.size(), 0);
  for (size_t i = 0; i < current.size(); ++i) {
    if (previous_position[i]) current[i] = current_[*previous_position[i]];
  }
  current_ = std::move(current);
}

std::optional<size_t> SmoothWeightedRoundRobinBalancer::Choose(const PickRequest&) {
  // nginx's ngx_http_upstream_get_peer: every taking-part peer gains its weight, the highest
  // (the first of equals) is chosen and pays back the round's total, so the running weights of
  // the peers taking part always sum to what they summed to before the round.
  std::optional<size_t> best;
  int64_t total = 0;
  for (size_t i = 0; i < current_.size(); ++i) {
    const int64_t weight = instances()[i].weight;
    if (weight == 0 || !IsAvailable(i)) continue;
    current_[i] += weight;
    total += weight;
    if (!best || current_[i] > current_[*best]) best = i;
  }
  if (best) current_[*best] -= total;
  return best;
}

}  // namespace pharos::client
