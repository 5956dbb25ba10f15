#include "client/balancer.h"

#include <algorithm>
#include <utility>

#include "client/consistent_hash_balancer.h"
#include "client/power_of_two_choices_balancer.h"
#include "client/random_balancer.h"
#include "client/round_robin_balancer.h"
#include "client/smooth_weighted_round_robin_balancer.h"
#include "client/weighted_random_balancer.h"

namespace pharos::client {

Balancer::Balancer(const BalancerOptions& options)
    : rng_(options.seed ? *options.seed : std::random_device{}()) {}

void Balancer::Update(std::vector<ServiceInstance> instances) {
  std::lock_guard lock(mu_);
  std::vector<ServiceInstance> kept;
  std::unordered_map<std::string, size_t> position;
  kept.reserve(instances.size());
  for (auto& instance : instances) {
    if (position.emplace(instance.id, kept.size()).second) kept.push_back(std::move(instance));
  }
  std::vector<std::optional<size_t>> previous_position(kept.size());
  std::vector<int64_t> in_flight(kept.size(), 0);
  for (size_t i = 0; i < kept.size(); ++i) {
    if (auto it = position_.find(kept[i].id); it != position_.end()) {
      previous_position[i] = it->second;
      in_flight[i] = in_flight_[it->second];
    }
  }
  instances_ = std::move(kept);
  in_flight_ = std::move(in_flight);
  position_ = std::move(position);
  InstancesChanged(previous_position);
}

std::optional<ServiceInstance> Balancer::Pick(const PickRequest& request) {
  std::lock_guard lock(mu_);
  if (instances_.empty()) return std::nullopt;
  std::optional<size_t> chosen = Choose(request);
  if (!chosen) return std::nullopt;
  return instances_[*chosen];
}

void Balancer::OnStart(const std::string& id) {
  std::lock_guard lock(mu_);
  if (auto it = position_.find(id); it != position_.end()) ++in_flight_[it->second];
}

void Balancer::OnFinish(const std::string& id) {
  std::lock_guard lock(mu_);
  if (auto it = position_.find(id); it != position_.end()) {
    // A call started before an Update that dropped and re-added its instance finishes against
    // a fresh count of zero.
    in_flight_[it->second] = std::max<int64_t>(0, in_flight_[it->second] - 1);
  }
}

int64_t Balancer::InFlight(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = position_.find(id);
  return it == position_.end() ? 0 : in_flight_[it->second];
}

void Balancer::SetAvailability(Availability available) {
  std::lock_guard lock(mu_);
  available_ = std::move(available);
}

void Balancer::InstancesChanged(const std::vector<std::optional<size_t>>&) {}

size_t Balancer::RandomIndex(size_t n) {
  return std::uniform_int_distribution<size_t>(0, n - 1)(rng_);
}

void Balancer::AvailableIndices(std::vector<size_t>* out) const {
  out->clear();
  for (size_t i = 0; i < instances_.size(); ++i) {
    if (IsAvailable(i)) out->push_back(i);
  }
}

std::unique_ptr<Balancer> MakeBalancer(BalancerKind kind, BalancerOptions options) {
  switch (kind) {
    case BalancerKind::kRandom:
      return std::make_unique<RandomBalancer>(options);
    case BalancerKind::kRoundRobin:
      return std::make_unique<RoundRobinBalancer>(options);
    case BalancerKind::kWeightedRandom:
      return std::make_unique<WeightedRandomBalancer>(options);
    case BalancerKind::kSmoothWeightedRoundRobin:
      return std::make_unique<SmoothWeightedRoundRobinBalancer>(options);
    case BalancerKind::kConsistentHash:
      return std::make_unique<ConsistentHashBalancer>(options);
    case BalancerKind::kPowerOfTwoChoices:
      return std::make_unique<PowerOfTwoChoicesBalancer>(options);
  }
  return nullptr;
}

}  // namespace pharos::client
