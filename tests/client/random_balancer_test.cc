#include "client/random_balancer.h"

#include <gtest/gtest.h>

#include <map>
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

TEST(RandomBalancerTest, CoversAllInstancesUniformly) {
  RandomBalancer balancer(Seeded(1));
  balancer.Update(Instances(10));
  constexpr int kPicks = 100'000;
  std::map<std::string, int> picks;
  for (int i = 0; i < kPicks; ++i) ++picks[balancer.Pick()->id];
  ASSERT_EQ(picks.size(), 10u);
  // The binomial standard deviation of a share here is 0.1%; 1% is ten of them.
  for (const auto& [id, count] : picks) EXPECT_NEAR(count / double(kPicks), 0.1, 0.01) << id;
}

TEST(RandomBalancerTest, StaysUniformOverTheAvailableOnes) {
  // The redraw among the available instances must not favour the neighbours of the down ones.
  RandomBalancer balancer(Seeded(2));
  balancer.Update(Instances(8));
  const std::set<std::string> down = {"i0", "i1", "i2", "i5"};
  balancer.SetAvailability([&](const ServiceInstance& i) { return !down.contains(i.id); });
  constexpr int kPicks = 100'000;
  std::map<std::string, int> picks;
  for (int i = 0; i < kPicks; ++i) ++picks[balancer.Pick()->id];
  ASSERT_EQ(picks.size(), 4u);
  for (const auto& [id, count] : picks) EXPECT_NEAR(count / double(kPicks), 0.25, 0.01) << id;
}

TEST(RandomBalancerTest, DifferentSeedsGiveDifferentSequences) {
  RandomBalancer a(Seeded(1));
  RandomBalancer b(Seeded(2));
  a.Update(Instances(10));
  b.Update(Instances(10));
  int differ = 0;
  for (int i = 0; i < 100; ++i) differ += a.Pick()->id != b.Pick()->id;
  EXPECT_GT(differ, 50);
}

}  // namespace
}  // namespace pharos::client
