// PowerOfTwoChoicesBalancer: least-loaded by the power of two random choices (Mitzenmacher): each
// call draws two distinct available instances at random and goes to the one with fewer calls in
// flight (OnStart/OnFinish), the first drawn on a tie. Two samples keep the busiest instance
// within about log log n of the average, where one sample (random) drifts like sqrt(calls), and
// unlike "the least loaded of all" many clients do not stampede the same idle instance.
// Weights are ignored. Thread rules: those of Balancer.
#pragma once

#include <vector>

#include "client/balancer.h"

namespace pharos::client {

class PowerOfTwoChoicesBalancer : public Balancer {
 public:
  explicit PowerOfTwoChoicesBalancer(const BalancerOptions& options) : Balancer(options) {}

 protected:
  std::optional<size_t> Choose(const PickRequest& request) override;

 private:
  std::vector<size_t> available_;  // scratch, kept to reuse its memory
};

}  // namespace pharos::client
