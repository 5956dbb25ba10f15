#include "client/round_robin_balancer.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace pharos::client {
namespace {

ServiceInstance Instance(std::string id, uint32_t weight = 1) {
  ServiceInstance instance;
  instance.id = std::move(id);
  instance.service = "svc";
  instance.weight = weight;
  return instance;
}

std::vector<ServiceInstance> Instances(int n) {
  std::vector<ServiceInstance> out;
  for (int i = 0; i < n; ++i) out.push_back(Instance("i" + std::to_string(i)));
  return out;
}

BalancerOptions Seeded(uint64_t seed) {
  BalancerOptions options;
  options.seed = seed;
  return options;
}

std::vector<std::string> Cycle(Balancer& balancer, int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(balancer.Pick()->id);
  return ids;
}

TEST(RoundRobinBalancerTest, VisitsEachInstanceOncePerCycleInAFixedOrder) {
  RoundRobinBalancer balancer(Seeded(3));
  balancer.Update(Instances(5));
  const auto first = Cycle(balancer, 5);
  EXPECT_EQ(std::set<std::string>(first.begin(), first.end()).size(), 5u);
  for (int cycle = 0; cycle < 10; ++cycle) EXPECT_EQ(Cycle(balancer, 5), first);
}

TEST(RoundRobinBalancerTest, SkipsUnavailableInstancesAndKeepsOnePickEachForTheOthers) {
  RoundRobinBalancer balancer(Seeded(4));
  balancer.Update(Instances(5));
  std::set<std::string> down = {"i2"};
  balancer.SetAvailability([&](const ServiceInstance& i) { return !down.contains(i.id); });
  for (int cycle = 0; cycle < 10; ++cycle) {
    const auto ids = Cycle(balancer, 4);
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()),
              (std::set<std::string>{"i0", "i1", "i3", "i4"}));
  }
  down = {"i0", "i3"};
  for (int cycle = 0; cycle < 10; ++cycle) {
    const auto ids = Cycle(balancer, 3);
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()),
              (std::set<std::string>{"i1", "i2", "i4"}));
  }
}

TEST(RoundRobinBalancerTest, NewSetIsCycledAfterUpdate) {
  RoundRobinBalancer balancer(Seeded(5));
  balancer.Update(Instances(5));
  Cycle(balancer, 3);  // leave the cursor mid-cycle, past the end of the smaller set below
  balancer.Update(Instances(2));
  for (int cycle = 0; cycle < 5; ++cycle) {
    const auto ids = Cycle(balancer, 2);
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), (std::set<std::string>{"i0", "i1"}));
  }
  balancer.Update(Instances(7));
  const auto ids = Cycle(balancer, 7);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 7u);
}

TEST(RoundRobinBalancerTest, SeedChoosesTheStartingPoint) {
  // Clients started together must not all open on the same instance.
  std::set<std::string> starts;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    RoundRobinBalancer balancer(Seeded(seed));
    balancer.Update(Instances(5));
    starts.insert(balancer.Pick()->id);
  }
  EXPECT_GE(starts.size(), 3u);
}

}  // namespace
}  // namespace pharos::client
