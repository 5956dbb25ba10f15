#include "client/power_of_two_choices_balancer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "client/random_balancer.h"

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

struct Loads {
  int64_t max = 0;
  int64_t min = INT64_MAX;
  int64_t total = 0;
};

Loads LoadsOf(const Balancer& balancer, int n) {
  Loads loads;
  for (int i = 0; i < n; ++i) {
    const int64_t load = balancer.InFlight("i" + std::to_string(i));
    loads.max = std::max(loads.max, load);
    loads.min = std::min(loads.min, load);
    loads.total += load;
  }
  return loads;
}

// How far the busiest instance is above the average: what the two-choices theorem bounds.
double Overload(const Balancer& balancer, int n) {
  const Loads loads = LoadsOf(balancer, n);
  return static_cast<double>(loads.max) - static_cast<double>(loads.total) / n;
}

TEST(PowerOfTwoChoicesBalancerTest, BusyInstanceIsPickedFarLess) {
  PowerOfTwoChoicesBalancer balancer(Seeded(21));
  balancer.Update(Instances(5));
  for (int i = 0; i < 50; ++i) balancer.OnStart("i0");  // a slow instance piling up calls
  std::map<std::string, int> picks;
  constexpr int kPicks = 10'000;
  for (int i = 0; i < kPicks; ++i) {
    auto picked = balancer.Pick();
    ++picks[picked->id];
    balancer.OnStart(picked->id);
    balancer.OnFinish(picked->id);
  }
  // Always compared with a distinct, idle instance, the busy one never wins.
  EXPECT_EQ(picks["i0"], 0);
  for (int i = 1; i < 5; ++i) EXPECT_NEAR(picks["i" + std::to_string(i)], kPicks / 4, 300) << i;

  // Once it drains it is back in the rotation.
  for (int i = 0; i < 50; ++i) balancer.OnFinish("i0");
  picks.clear();
  for (int i = 0; i < kPicks; ++i) ++picks[balancer.Pick()->id];
  EXPECT_NEAR(picks["i0"], kPicks / 5, 300);
}

TEST(PowerOfTwoChoicesBalancerTest, BusyInstanceGetsOnlyWhatItsLoadAllows) {
  // Loads accumulate (no OnFinish): the busy instance is left alone until the others catch up.
  PowerOfTwoChoicesBalancer balancer(Seeded(22));
  balancer.Update(Instances(5));
  for (int i = 0; i < 100; ++i) balancer.OnStart("i0");
  for (int i = 0; i < 300; ++i) balancer.OnStart(balancer.Pick()->id);
  EXPECT_EQ(balancer.InFlight("i0"), 100) << "the others hold about 75 each, all below 100";
}

TEST(PowerOfTwoChoicesBalancerTest, LoadsStayBalancedWhereRandomDrifts) {
  // The bounds leave room over what 200 simulated runs of each setting reached (busiest 3.7
  // over the average, spread 9), and random drifts far beyond them (spread 47 at the least).
  constexpr int kInstances = 10;
  constexpr int kCalls = 10'000;
  PowerOfTwoChoicesBalancer two_choices(Seeded(23));
  RandomBalancer random(Seeded(23));
  two_choices.Update(Instances(kInstances));
  random.Update(Instances(kInstances));
  for (int call = 0; call < kCalls; ++call) {
    two_choices.OnStart(two_choices.Pick()->id);
    random.OnStart(random.Pick()->id);
    // The busiest stays within about log log n of the average at every moment, whatever the
    // number of calls.
    ASSERT_LE(Overload(two_choices, kInstances), 5.0) << "after " << call << " calls";
    const Loads loads = LoadsOf(two_choices, kInstances);
    ASSERT_LE(loads.max - loads.min, 11) << "after " << call << " calls";
  }
  // One random choice drifts like sqrt(calls / n) = 30 per instance.
  const Loads drift = LoadsOf(random, kInstances);
  EXPECT_GT(drift.max - drift.min, 30);
  EXPECT_GT(Overload(random, kInstances), 15.0);
}

TEST(PowerOfTwoChoicesBalancerTest, LoadsStayBalancedWithCallsFinishing) {
  // 100 simulated runs of this setting left the busiest at most 5 over the average.
  constexpr int kInstances = 8;
  PowerOfTwoChoicesBalancer balancer(Seeded(24));
  balancer.Update(Instances(kInstances));
  std::mt19937_64 rng(24);
  std::vector<std::string> in_flight;
  for (int call = 0; call < 20'000; ++call) {
    // Keep 200 calls in flight, a random one finishing for each new one.
    if (in_flight.size() >= 200) {
      const size_t done = rng() % in_flight.size();
      balancer.OnFinish(in_flight[done]);
      in_flight[done] = in_flight.back();
      in_flight.pop_back();
    }
    auto picked = balancer.Pick();
    balancer.OnStart(picked->id);
    in_flight.push_back(picked->id);
    ASSERT_LE(Overload(balancer, kInstances), 6.5) << "after " << call << " calls";
  }
}

TEST(PowerOfTwoChoicesBalancerTest, IdleInstancesAreCoveredUniformly) {
  PowerOfTwoChoicesBalancer balancer(Seeded(25));
  balancer.Update(Instances(10));
  constexpr int kPicks = 100'000;
  std::map<std::string, int> picks;
  for (int i = 0; i < kPicks; ++i) ++picks[balancer.Pick()->id];
  ASSERT_EQ(picks.size(), 10u);
  for (const auto& [id, count] : picks) EXPECT_NEAR(count / double(kPicks), 0.1, 0.01) << id;
}

TEST(PowerOfTwoChoicesBalancerTest, OneAvailableInstanceIsAlwaysPicked) {
  PowerOfTwoChoicesBalancer balancer(Seeded(26));
  balancer.Update(Instances(3));
  balancer.SetAvailability([](const ServiceInstance& i) { return i.id == "i2"; });
  balancer.OnStart("i2");  // busier than the others, but they are down
  for (int i = 0; i < 100; ++i) EXPECT_EQ(balancer.Pick()->id, "i2");
}

}  // namespace
}  // namespace pharos::client
