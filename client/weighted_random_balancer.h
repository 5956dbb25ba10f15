// WeightedRandomBalancer: each call goes to an available instance drawn at random with
// probability weight / (sum of the available instances' weights); weight 0 is never picked.
// Stateless between picks, like RandomBalancer. Thread rules: those of Balancer.
#pragma once

#include <vector>

#include "client/balancer.h"

namespace pharos::client {

class WeightedRandomBalancer : public Balancer {
 public:
  explicit WeightedRandomBalancer(const BalancerOptions& options) : Balancer(options) {}

 protected:
  std::optional<size_t> Choose(const PickRequest& request) override;

 private:
  std::vector<size_t> eligible_;  // scratch, kept to reuse its memory
};

}  // namespace pharos::client
