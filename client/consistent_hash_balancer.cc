#include "client/consistent_hash_balancer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "client/xxhash64.h"

namespace pharos::client {

ConsistentHashBalancer::ConsistentHashBalancer(const BalancerOptions& options)
    : Balancer(options),
      virtual_nodes_(std::max(1, options.virtual_nodes)),
      bounded_load_(options.bounded_load),
      load_epsilon_(std::max(0.0, options.load_epsilon)) {}

void ConsistentHashBalancer::InstancesChanged(const std::vector<std::optional<size_t>>&) {
  ring_.clear();
  ring_.reserve(instances().size() * static_cast<size_t>(virtual_nodes_));
  for (size_t i = 0; i < instances().size(); ++i) {
    // The point's number seeds the hash, so no "id#n" strings are built.
    for (int v = 0; v < virtual_nodes_; ++v) {
      ring_.push_back({XxHash64(instances()[i].id, static_cast<uint64_t>(v)), i});
    }
  }
  // Ties broken by id, not position, so every client builds the same ring from the same ids.
  std::sort(ring_.begin(), ring_.end(), [this](const Point& a, const Point& b) {
    if (a.hash != b.hash) return a.hash < b.hash;
    return instances()[a.instance].id < instances()[b.instance].id;
  });
}

std::optional<size_t> ConsistentHashBalancer::Choose(const PickRequest& request) {
  // The bound counts only the instances a call could go to, and only their calls in flight.
  const size_t n = instances().size();
  available_.assign(n, 0);
  size_t bins = 0;
  int64_t in_flight = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!IsAvailable(i)) continue;
    available_[i] = 1;
    ++bins;
    in_flight += Load(i);
  }
  if (bins == 0) return std::nullopt;
  int64_t capacity = std::numeric_limits<int64_t>::max();
  if (bounded_load_) {
    capacity = static_cast<int64_t>(std::ceil(
        (1.0 + load_epsilon_) * static_cast<double>(in_flight + 1) / static_cast<double>(bins)));
  }

  const uint64_t hash = XxHash64(request.hash_key);
  const auto first = std::lower_bound(ring_.begin(), ring_.end(), hash,
                                      [](const Point& p, uint64_t h) { return p.hash < h; });
  const size_t start = static_cast<size_t>(first - ring_.begin());
  for (size_t step = 0; step < ring_.size(); ++step) {
    const size_t instance = ring_[(start + step) % ring_.size()].instance;
    if (available_[instance] && Load(instance) < capacity) return instance;
  }
  // Not reached: the available bins hold `in_flight` calls and their capacities add up to at
  // least (1 + epsilon) * (in_flight + 1) > in_flight, so one of them has room.
  return std::nullopt;
}

}  // namespace pharos::client
