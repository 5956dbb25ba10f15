// ConsistentHashBalancer: routes each request by its hash_key, so equal keys reach the same
// instance (caches stay warm, sessions stay put) and a change in the set moves few keys: adding
// one of n+1 instances moves about 1/(n+1) of them, all to the newcomer. Each instance owns
// `virtual_nodes` points on a 64-bit ring (xxHash64 of its id); a key goes to the owner of the
// first point at or after its own hash, walking on clockwise past unavailable instances and, with
// bounded load, past instances already at capacity ceil((1 + epsilon) * (in-flight + 1) / n)
// (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads"), so a hot key
// overflows to its ring neighbours instead of melting one instance. Weights are ignored: each
// instance counts as one bin. The ring depends on the ids only, not on the order Update gives.
// Thread rules: those of Balancer.
#pragma once

#include <cstdint>
#include <vector>

#include "client/balancer.h"

namespace pharos::client {

class ConsistentHashBalancer : public Balancer {
 public:
  explicit ConsistentHashBalancer(const BalancerOptions& options);

 protected:
  void InstancesChanged(const std::vector<std::optional<size_t>>& previous_position) override;
  std::optional<size_t> Choose(const PickRequest& request) override;

 private:
  struct Point {
    uint64_t hash;
    size_t instance;
  };

  const int virtual_nodes_;
  const bool bounded_load_;
  const double load_epsilon_;
  std::vector<Point> ring_;      // sorted by hash, then instance id
  std::vector<char> available_;  // scratch, kept to reuse its memory
};

}  // namespace pharos::client
