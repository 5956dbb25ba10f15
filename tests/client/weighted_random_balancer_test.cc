#include "client/weighted_random_balancer.h"

#include <gtest/gtest.h>

#include <map>
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

std::vector<ServiceInstance> Weighted(const std::vector<uint32_t>& weights) {
  std::vector<ServiceInstance> out;
  for (size_t i = 0; i < weights.size(); ++i) {
    out.push_back(Instance("i" + std::to_string(i), weights[i]));
  }
  return out;
}

BalancerOptions Seeded(uint64_t seed) {
  BalancerOptions options;
  options.seed = seed;
  return options;
}

std::map<std::string, int> Count(Balancer& balancer, int picks) {
  std::map<std::string, int> counts;
  for (int i = 0; i < picks; ++i) ++counts[balancer.Pick()->id];
  return counts;
}

TEST(WeightedRandomBalancerTest, SharesFollowWeightsWithinTwoPercent) {
  WeightedRandomBalancer balancer(Seeded(11));
  const std::vector<uint32_t> weights = {1, 2, 3, 4, 10};
  balancer.Update(Weighted(weights));
  constexpr int kPicks = 100'000;
  auto counts = Count(balancer, kPicks);
  for (size_t i = 0; i < weights.size(); ++i) {
    EXPECT_NEAR(counts["i" + std::to_string(i)] / double(kPicks), weights[i] / 20.0, 0.02) << i;
  }
}

TEST(WeightedRandomBalancerTest, WeightZeroIsNeverPicked) {
  WeightedRandomBalancer balancer(Seeded(12));
  balancer.Update(Weighted({0, 3, 0, 1}));
  constexpr int kPicks = 100'000;
  auto counts = Count(balancer, kPicks);
  EXPECT_EQ(counts.count("i0"), 0u);
  EXPECT_EQ(counts.count("i2"), 0u);
  EXPECT_NEAR(counts["i1"] / double(kPicks), 0.75, 0.02);
  EXPECT_NEAR(counts["i3"] / double(kPicks), 0.25, 0.02);

  balancer.Update(Weighted({0, 0}));
  EXPECT_FALSE(balancer.Pick().has_value());
}

TEST(WeightedRandomBalancerTest, UnavailableInstancesLeaveTheOthersInProportion) {
  WeightedRandomBalancer balancer(Seeded(13));
  balancer.Update(Weighted({5, 1, 3}));
  balancer.SetAvailability([](const ServiceInstance& i) { return i.id != "i0"; });
  constexpr int kPicks = 100'000;
  auto counts = Count(balancer, kPicks);
  EXPECT_EQ(counts.count("i0"), 0u);
  EXPECT_NEAR(counts["i1"] / double(kPicks), 0.25, 0.02);
  EXPECT_NEAR(counts["i2"] / double(kPicks), 0.75, 0.02);
}

TEST(WeightedRandomBalancerTest, HugeWeightsDoNotOverflow) {
  WeightedRandomBalancer balancer(Seeded(14));
  balancer.Update(Weighted({UINT32_MAX, UINT32_MAX, UINT32_MAX / 2}));
  constexpr int kPicks = 100'000;
  auto counts = Count(balancer, kPicks);
  EXPECT_NEAR(counts["i0"] / double(kPicks), 0.4, 0.02);
  EXPECT_NEAR(counts["i2"] / double(kPicks), 0.2, 0.02);
}

}  // namespace
}  // namespace pharos::client
