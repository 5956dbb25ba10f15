#include "client/smooth_weighted_round_robin_balancer.h"

#include <gtest/gtest.h>

#include <algorithm>
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

std::vector<ServiceInstance> Weighted(const std::vector<std::pair<std::string, uint32_t>>& w) {
  std::vector<ServiceInstance> out;
  for (const auto& [id, weight] : w) out.push_back(Instance(id, weight));
  return out;
}

std::string Sequence(Balancer& balancer, int picks) {
  std::string ids;
  for (int i = 0; i < picks; ++i) {
    auto picked = balancer.Pick();
    ids += picked ? picked->id : "-";
  }
  return ids;
}

TEST(SmoothWeightedRoundRobinBalancerTest, FiveOneOneGivesNginxSequenceEveryCycle) {
  SmoothWeightedRoundRobinBalancer balancer({});
  balancer.Update(Weighted({{"a", 5}, {"b", 1}, {"c", 1}}));
  for (int cycle = 0; cycle < 6; ++cycle) EXPECT_EQ(Sequence(balancer, 7), "aabacaa") << cycle;
}

TEST(SmoothWeightedRoundRobinBalancerTest, EachCycleGivesExactlyTheWeightsSpreadOut) {
  SmoothWeightedRoundRobinBalancer balancer({});
  balancer.Update(Weighted({{"a", 4}, {"b", 3}, {"c", 2}, {"d", 1}}));
  std::string previous;
  for (int cycle = 0; cycle < 5; ++cycle) {
    const std::string seq = Sequence(balancer, 10);
    std::map<char, int> counts;
    for (char id : seq) ++counts[id];
    EXPECT_EQ(counts, (std::map<char, int>{{'a', 4}, {'b', 3}, {'c', 2}, {'d', 1}})) << seq;
    // Smooth, unlike plain weighted round robin's aaaabbbccd: no instance twice in a row here.
    for (size_t i = 1; i < seq.size(); ++i) EXPECT_NE(seq[i], seq[i - 1]) << seq;
    if (cycle > 0) {
      EXPECT_EQ(seq, previous);
    }
    previous = seq;
  }
}

TEST(SmoothWeightedRoundRobinBalancerTest, WeightZeroIsNeverPicked) {
  SmoothWeightedRoundRobinBalancer balancer({});
  balancer.Update(Weighted({{"a", 2}, {"z", 0}, {"c", 1}}));
  for (int cycle = 0; cycle < 4; ++cycle) EXPECT_EQ(Sequence(balancer, 3), "aca");
  balancer.Update(Weighted({{"z", 0}}));
  EXPECT_FALSE(balancer.Pick().has_value());
}

TEST(SmoothWeightedRoundRobinBalancerTest, UnavailablePeerSitsOutWithoutDisturbingTheOthers) {
  SmoothWeightedRoundRobinBalancer with_c({});
  SmoothWeightedRoundRobinBalancer without_c({});
  with_c.Update(Weighted({{"a", 5}, {"b", 1}, {"c", 1}}));
  without_c.Update(Weighted({{"a", 5}, {"b", 1}}));
  bool c_up = false;
  with_c.SetAvailability([&](const ServiceInstance& i) { return c_up || i.id != "c"; });
  // From a fresh start, the others see exactly the sequence of the set without c.
  EXPECT_EQ(Sequence(with_c, 18), Sequence(without_c, 18));
  EXPECT_EQ(Sequence(without_c, 6), "aaabaa");

  // Back at the start of a cycle (every running weight 0 again), c resumes the full sequence.
  c_up = true;
  for (int cycle = 0; cycle < 3; ++cycle) EXPECT_EQ(Sequence(with_c, 7), "aabacaa");
}

TEST(SmoothWeightedRoundRobinBalancerTest, OutageMidCycleKeepsSharesOverTheLongRun) {
  SmoothWeightedRoundRobinBalancer balancer({});
  balancer.Update(Weighted({{"a", 5}, {"b", 1}, {"c", 1}}));
  bool c_up = true;
  balancer.SetAvailability([&](const ServiceInstance& i) { return c_up || i.id != "c"; });
  Sequence(balancer, 3);  // mid-cycle
  c_up = false;
  const std::string outage = Sequence(balancer, 12);
  EXPECT_EQ(outage.find('c'), std::string::npos);
  EXPECT_EQ(std::count(outage.begin(), outage.end(), 'b'), 2) << outage;
  c_up = true;
  // Running weights stay bounded, so every later window of a full cycle is within one pick of
  // the weights.
  for (int window = 0; window < 10; ++window) {
    const std::string seq = Sequence(balancer, 7);
    EXPECT_NEAR(std::count(seq.begin(), seq.end(), 'a'), 5, 1) << seq;
    EXPECT_NEAR(std::count(seq.begin(), seq.end(), 'b'), 1, 1) << seq;
    EXPECT_NEAR(std::count(seq.begin(), seq.end(), 'c'), 1, 1) << seq;
  }
}

TEST(SmoothWeightedRoundRobinBalancerTest, RefreshWithTheSameSetDoesNotRestartTheCycle) {
  SmoothWeightedRoundRobinBalancer balancer({});
  const auto instances = Weighted({{"a", 5}, {"b", 1}, {"c", 1}});
  balancer.Update(instances);
  std::string seq = Sequence(balancer, 3);
  balancer.Update(instances);  // Discovery re-sending the same set mid-cycle
  seq += Sequence(balancer, 4);
  balancer.Update({instances[2], instances[0], instances[1]});  // same ids, another order
  seq += Sequence(balancer, 7);
  EXPECT_EQ(seq.substr(0, 7), "aabacaa");
  std::map<char, int> counts;
  for (char id : seq.substr(7)) ++counts[id];
  EXPECT_EQ(counts, (std::map<char, int>{{'a', 5}, {'b', 1}, {'c', 1}})) << seq;
}

}  // namespace
}  // namespace pharos::client
