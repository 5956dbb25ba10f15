// SmoothWeightedRoundRobinBalancer: nginx's smooth weighted round robin. Over every cycle of
// (sum of weights) picks each instance gets exactly its weight, spread out rather than in bursts:
// weights a=5, b=1, c=1 give a a b a c a a. Weight 0 is never picked. An unavailable instance sits
// rounds out with its running weight frozen: the others carry on from their own running weights
// and share its turns in proportion to theirs (from a fresh start, exactly the sequence of the set
// without it), and it resumes where it stopped when it comes back. Running weights survive an
// Update for ids still present, so Discovery re-sending the same set does not restart the cycle.
// Thread rules: those of Balancer.
#pragma once

#include <cstdint>
#include <vector>

#include "client/balancer.h"

namespace pharos::client {

class SmoothWeightedRoundRobinBalancer : public Balancer {
 public:
  explicit SmoothWeightedRoundRobinBalancer(const BalancerOptions& options) : Balancer(options) {}

 protected:
  void InstancesChanged(const std::vector<std::optional<size_t>>& previous_position) override;
  std::optional<size_t> Choose(const PickRequest& request) override;

 private:
  std::vector<int64_t> current_;  // nginx's current_weight, parallel to instances()
};

}  // namespace pharos::client
