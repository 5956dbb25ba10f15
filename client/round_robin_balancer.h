// RoundRobinBalancer: calls go to the instances in turn, each available instance once per cycle,
// weights ignored. The starting point is drawn from the seed so that clients started together do
// not all open on the first instance. Thread rules: those of Balancer.
#pragma once

#include <cstddef>

#include "client/balancer.h"

namespace pharos::client {

class RoundRobinBalancer : public Balancer {
 public:
  explicit RoundRobinBalancer(const BalancerOptions& options);

 protected:
  std::optional<size_t> Choose(const PickRequest& request) override;

 private:
  size_t next_;  // taken modulo the set's size, so it survives an Update that shrinks the set
};

}  // namespace pharos::client
