// RandomBalancer: each call goes to an available instance drawn uniformly at random, weights
// ignored. Stateless between picks, so it needs no coordination among clients and no load
// feedback; the spread it leaves grows like the square root of the number of calls. Thread rules:
// those of Balancer.
#pragma once

#include <vector>

#include "client/balancer.h"

namespace pharos::client {

class RandomBalancer : public Balancer {
 public:
  explicit RandomBalancer(const BalancerOptions& options) : Balancer(options) {}

 protected:
  std::optional<size_t> Choose(const PickRequest& request) override;

 private:
  std::vector<size_t> available_;  // scratch, kept to reuse its memory
};

}  // namespace pharos::client
