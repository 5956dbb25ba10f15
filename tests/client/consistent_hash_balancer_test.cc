#include "client/consistent_hash_balancer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
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
  for (int i = 0; i < n; ++i) out.push_back(Instance("node-" + std::to_string(i)));
  return out;
}

BalancerOptions Options(double epsilon = 0.25, bool bounded = true) {
  BalancerOptions options;
  options.seed = 1;
  options.load_epsilon = epsilon;
  options.bounded_load = bounded;
  return options;
}

std::string Key(int i) { return "user-" + std::to_string(i); }

// Where each of `keys` keys goes, with no load (every call finished), so the ring alone decides.
std::vector<std::string> Owners(Balancer& balancer, int keys) {
  std::vector<std::string> owners;
  owners.reserve(keys);
  for (int i = 0; i < keys; ++i) owners.push_back(balancer.Pick({Key(i)})->id);
  return owners;
}

// The Mirrokni et al. cap for a total of `in_flight` calls over `n` instances.
int64_t Cap(double epsilon, int64_t in_flight, size_t n) {
  return static_cast<int64_t>(
      std::ceil((1.0 + epsilon) * static_cast<double>(in_flight) / static_cast<double>(n)));
}

constexpr int kKeys = 100'000;

TEST(ConsistentHashBalancerTest, AddingANodeMovesOnlyItsShareAndOnlyToIt) {
  for (int n : {10, 25}) {
    ConsistentHashBalancer balancer(Options());
    auto instances = Instances(n);
    balancer.Update(instances);
    const auto before = Owners(balancer, kKeys);
    instances.push_back(Instance("newcomer"));
    balancer.Update(instances);
    const auto after = Owners(balancer, kKeys);
    int moved = 0;
    for (int i = 0; i < kKeys; ++i) {
      if (before[i] == after[i]) continue;
      ++moved;
      ASSERT_EQ(after[i], "newcomer") << "key " << Key(i) << " moved between old nodes";
    }
    EXPECT_LE(moved, kKeys * (1.0 / (n + 1) + 0.05)) << "n=" << n;
    EXPECT_GT(moved, kKeys * (1.0 / (n + 1)) / 2) << "the newcomer must take a fair share";
  }
}

TEST(ConsistentHashBalancerTest, RemovingANodeMovesOnlyItsKeys) {
  ConsistentHashBalancer balancer(Options());
  auto instances = Instances(10);
  balancer.Update(instances);
  const auto before = Owners(balancer, kKeys);
  instances.erase(instances.begin() + 3);
  balancer.Update(instances);
  const auto after = Owners(balancer, kKeys);
  for (int i = 0; i < kKeys; ++i) {
    if (before[i] != "node-3") {
      ASSERT_EQ(before[i], after[i]) << Key(i);
    }
    ASSERT_NE(after[i], "node-3");
  }
}

TEST(ConsistentHashBalancerTest, SharesAreEvenWithVirtualNodes) {
  ConsistentHashBalancer balancer(Options());
  balancer.Update(Instances(10));
  std::map<std::string, int> share;
  for (const auto& owner : Owners(balancer, kKeys)) ++share[owner];
  ASSERT_EQ(share.size(), 10u);
  // 160 points each leave a relative spread of about 1/sqrt(160) = 8%; 25% is three of them.
  for (const auto& [id, count] : share) EXPECT_NEAR(count, kKeys / 10, kKeys / 10 * 0.25) << id;
}

TEST(ConsistentHashBalancerTest, SameKeySameInstanceWithoutLoadPressureAndInAnyOrder) {
  ConsistentHashBalancer balancer(Options());
  auto instances = Instances(10);
  balancer.Update(instances);
  std::reverse(instances.begin(), instances.end());
  std::mt19937_64 shuffle(5);
  std::shuffle(instances.begin(), instances.end(), shuffle);
  ConsistentHashBalancer other_client(Options());
  other_client.Update(instances);
  for (int i = 0; i < 1000; ++i) {
    const std::string home = balancer.Pick({Key(i)})->id;
    EXPECT_EQ(other_client.Pick({Key(i)})->id, home) << "the ring depends on ids, not order";
    for (int call = 0; call < 5; ++call) {
      // Calls that finish leave no pressure, so the key stays home.
      auto picked = balancer.Pick({Key(i)});
      ASSERT_EQ(picked->id, home);
      balancer.OnStart(picked->id);
      balancer.OnFinish(picked->id);
    }
  }
}

// Picks `calls` times with keys from `next_key`, OnStart for each and no OnFinish, checking after
// every pick that no instance holds more than the cap for the calls in flight.
template <typename NextKey>
void ExpectLoadsCapped(ConsistentHashBalancer& balancer, size_t n, double epsilon, int calls,
                       NextKey next_key) {
  std::map<std::string, int64_t> load;
  for (int call = 1; call <= calls; ++call) {
    auto picked = balancer.Pick({next_key()});
    ASSERT_TRUE(picked.has_value());
    balancer.OnStart(picked->id);
    ++load[picked->id];
    int64_t max_load = 0;
    for (const auto& [id, l] : load) max_load = std::max(max_load, l);
    ASSERT_LE(max_load, Cap(epsilon, call, n)) << "after " << call << " calls";
  }
}

TEST(ConsistentHashBalancerTest, BoundedLoadCapsEveryNodeUnderOneHotKey) {
  ConsistentHashBalancer balancer(Options(0.25));
  balancer.Update(Instances(10));
  ExpectLoadsCapped(balancer, 10, 0.25, 2000, [] { return std::string("celebrity"); });
  // The overflow walks on round the ring: at 250 calls each at most, 2000 calls need 8 nodes.
  int busy = 0;
  for (const auto& instance : Instances(10)) busy += balancer.InFlight(instance.id) > 0;
  EXPECT_GE(busy, 8);
}

TEST(ConsistentHashBalancerTest, BoundedLoadCapsEveryNodeUnderHotKeys) {
  ConsistentHashBalancer balancer(Options(0.25));
  balancer.Update(Instances(12));
  std::mt19937_64 rng(9);
  // 80% of calls on three hot keys, the rest spread over 10,000 keys.
  ExpectLoadsCapped(balancer, 12, 0.25, 5000, [&] {
    const uint64_t r = rng() % 100;
    if (r < 80) return "hot-" + std::to_string(r % 3);
    return Key(static_cast<int>(rng() % 10'000));
  });
}

TEST(ConsistentHashBalancerTest, BoundedLoadHoldsWhileCallsFinish) {
  // With completions the cap is checked when the call is placed, against the calls then in
  // flight, which is what the paper bounds.
  const double epsilon = 0.1;
  ConsistentHashBalancer balancer(Options(epsilon));
  const auto instances = Instances(8);
  balancer.Update(instances);
  std::mt19937_64 rng(10);
  std::vector<std::string> in_flight;
  for (int call = 0; call < 20'000; ++call) {
    if (!in_flight.empty() && rng() % 2 == 0) {
      const size_t done = rng() % in_flight.size();
      balancer.OnFinish(in_flight[done]);
      in_flight[done] = in_flight.back();
      in_flight.pop_back();
    }
    const std::string key = rng() % 2 ? "hot" : Key(static_cast<int>(rng() % 1000));
    auto picked = balancer.Pick({key});
    ASSERT_TRUE(picked.has_value());
    balancer.OnStart(picked->id);
    in_flight.push_back(picked->id);
    ASSERT_LE(balancer.InFlight(picked->id),
              Cap(epsilon, static_cast<int64_t>(in_flight.size()), instances.size()));
  }
}

TEST(ConsistentHashBalancerTest, EpsilonZeroBalancesPerfectly) {
  ConsistentHashBalancer balancer(Options(0.0));
  const auto instances = Instances(7);
  balancer.Update(instances);
  for (int call = 1; call <= 700; ++call) {
    auto picked = balancer.Pick({"hot"});
    balancer.OnStart(picked->id);
    int64_t low = INT64_MAX, high = 0;
    for (const auto& instance : instances) {
      low = std::min(low, balancer.InFlight(instance.id));
      high = std::max(high, balancer.InFlight(instance.id));
    }
    ASSERT_LE(high - low, 1) << "after " << call << " calls";
  }
}

TEST(ConsistentHashBalancerTest, WithoutBoundedLoadAHotKeyPilesOnOneNode) {
  // The teeth of the tests above: the plain ring sends every call of a hot key home.
  ConsistentHashBalancer balancer(Options(0.25, /*bounded=*/false));
  balancer.Update(Instances(10));
  const std::string home = balancer.Pick({"celebrity"})->id;
  for (int call = 0; call < 500; ++call) {
    auto picked = balancer.Pick({"celebrity"});
    ASSERT_EQ(picked->id, home);
    balancer.OnStart(picked->id);
  }
  EXPECT_EQ(balancer.InFlight(home), 500);
}

TEST(ConsistentHashBalancerTest, FullOrUnavailableHomeSpillsToTheSameRingNeighbour) {
  ConsistentHashBalancer balancer(Options(0.25));
  balancer.Update(Instances(10));
  for (int i = 0; i < 200; ++i) {
    const std::string home = balancer.Pick({Key(i)})->id;
    // Unavailable home: the key walks clockwise to the next instance.
    balancer.SetAvailability([&](const ServiceInstance& s) { return s.id != home; });
    const std::string neighbour = balancer.Pick({Key(i)})->id;
    ASSERT_NE(neighbour, home);
    balancer.SetAvailability(nullptr);
    // Full home: the same walk, to the same neighbour.
    for (int c = 0; c < 10; ++c) balancer.OnStart(home);
    EXPECT_EQ(balancer.Pick({Key(i)})->id, neighbour) << Key(i);
    for (int c = 0; c < 10; ++c) balancer.OnFinish(home);
    EXPECT_EQ(balancer.Pick({Key(i)})->id, home) << "back home once the load is gone";
  }
}

TEST(ConsistentHashBalancerTest, EveryKeyFindsAnInstanceWhileAnyIsAvailable) {
  ConsistentHashBalancer balancer(Options(0.25));
  balancer.Update(Instances(5));
  balancer.SetAvailability([](const ServiceInstance& s) { return s.id == "node-4"; });
  for (int i = 0; i < 1000; ++i) {
    auto picked = balancer.Pick({Key(i)});
    ASSERT_TRUE(picked.has_value());
    EXPECT_EQ(picked->id, "node-4");
    balancer.OnStart(picked->id);  // the one instance is never "full": the cap follows its load
  }
}

}  // namespace
}  // namespace pharos::client
