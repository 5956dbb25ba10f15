// What every balancer owes, whatever its algorithm: the availability hook, empty and all-down
// sets, Update, load bookkeeping, seeding, and use from several threads.
#include "client/balancer.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace pharos::client {
namespace {

std::vector<ServiceInstance> Instances(int n, const std::string& prefix = "i") {
  std::vector<ServiceInstance> out;
  for (int i = 0; i < n; ++i) {
    ServiceInstance instance;
    instance.id = prefix + std::to_string(i);
    instance.service = "svc";
    instance.address = "10.0.0." + std::to_string(i + 1);
    instance.port = 8080;
    out.push_back(instance);
  }
  return out;
}

// Distinct keys, so consistent hashing is exercised across the ring, not on one point.
PickRequest Key(int i) { return PickRequest{"user-" + std::to_string(i)}; }

class BalancerTest : public ::testing::TestWithParam<BalancerKind> {
 protected:
  std::unique_ptr<Balancer> Make(uint64_t seed = 42) {
    BalancerOptions options;
    options.seed = seed;
    return MakeBalancer(GetParam(), options);
  }
};

TEST_P(BalancerTest, EmptySetGivesNullopt) {
  auto balancer = Make();
  EXPECT_FALSE(balancer->Pick(Key(0)).has_value());
  balancer->Update({});
  EXPECT_FALSE(balancer->Pick(Key(0)).has_value());
}

TEST_P(BalancerTest, PicksOnlyInstancesOfTheSetAndReachesEachOfThem) {
  auto balancer = Make();
  const auto instances = Instances(5);
  balancer->Update(instances);
  std::map<std::string, int> picks;
  for (int i = 0; i < 1000; ++i) {
    auto picked = balancer->Pick(Key(i));
    ASSERT_TRUE(picked.has_value());
    EXPECT_EQ(*picked, instances[std::stoi(picked->id.substr(1))]);
    ++picks[picked->id];
  }
  EXPECT_EQ(picks.size(), 5u);
}

TEST_P(BalancerTest, UnavailableInstancesAreNeverPicked) {
  auto balancer = Make();
  balancer->Update(Instances(6));
  const std::set<std::string> down = {"i1", "i2", "i4"};
  balancer->SetAvailability([&](const ServiceInstance& i) { return !down.contains(i.id); });
  std::map<std::string, int> picks;
  for (int i = 0; i < 3000; ++i) {
    auto picked = balancer->Pick(Key(i));
    ASSERT_TRUE(picked.has_value());
    ++picks[picked->id];
    // Load must not lure the least-loaded and bounded-load balancers onto a down instance.
    balancer->OnStart(picked->id);
  }
  EXPECT_EQ(picks.size(), 3u);
  for (const auto& id : down) EXPECT_EQ(picks.count(id), 0u) << id;
  // Finish the calls, or the load they left would (rightly) steer the next picks away.
  for (const auto& [id, count] : picks) {
    for (int c = 0; c < count; ++c) balancer->OnFinish(id);
  }

  balancer->SetAvailability(nullptr);
  std::set<std::string> after;
  for (int i = 0; i < 3000; ++i) after.insert(balancer->Pick(Key(i))->id);
  EXPECT_EQ(after.size(), 6u) << "clearing the hook makes every instance available again";
}

TEST_P(BalancerTest, AllUnavailableGivesNullopt) {
  auto balancer = Make();
  balancer->Update(Instances(4));
  bool up = false;
  balancer->SetAvailability([&](const ServiceInstance&) { return up; });
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(balancer->Pick(Key(i)).has_value());
  up = true;  // the hook is asked at every Pick, not cached
  EXPECT_TRUE(balancer->Pick(Key(0)).has_value());
}

TEST_P(BalancerTest, UpdateReplacesTheSet) {
  auto balancer = Make();
  balancer->Update(Instances(3, "old"));
  ASSERT_TRUE(balancer->Pick(Key(0)).has_value());
  balancer->Update(Instances(4, "new"));
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(balancer->Pick(Key(i))->id);
  EXPECT_EQ(seen, (std::set<std::string>{"new0", "new1", "new2", "new3"}));
  balancer->Update({});
  EXPECT_FALSE(balancer->Pick(Key(0)).has_value());
  balancer->Update(Instances(1, "back"));
  EXPECT_EQ(balancer->Pick(Key(0))->id, "back0");
}

TEST_P(BalancerTest, DuplicateIdsCountOnce) {
  auto balancer = Make();
  auto instances = Instances(2);
  auto duplicate = instances[0];
  duplicate.port = 9999;
  instances.push_back(duplicate);
  balancer->Update(instances);
  for (int i = 0; i < 200; ++i) {
    auto picked = balancer->Pick(Key(i));
    ASSERT_TRUE(picked.has_value());
    EXPECT_NE(picked->port, 9999) << "the first instance with an id wins";
  }
}

TEST_P(BalancerTest, InFlightFollowsStartAndFinishAndSurvivesUpdate) {
  auto balancer = Make();
  balancer->Update(Instances(3));
  balancer->OnStart("i0");
  balancer->OnStart("i0");
  balancer->OnStart("i1");
  balancer->OnFinish("i0");
  EXPECT_EQ(balancer->InFlight("i0"), 1);
  EXPECT_EQ(balancer->InFlight("i1"), 1);
  EXPECT_EQ(balancer->InFlight("i2"), 0);
  balancer->OnFinish("i2");
  EXPECT_EQ(balancer->InFlight("i2"), 0) << "never below zero";
  balancer->OnStart("nobody");
  EXPECT_EQ(balancer->InFlight("nobody"), 0) << "ids outside the set are ignored";

  auto next = Instances(3);
  next.erase(next.begin() + 1);  // i1 leaves
  next.push_back(Instances(1, "x")[0]);
  balancer->Update(next);
  EXPECT_EQ(balancer->InFlight("i0"), 1) << "a surviving instance keeps its calls in flight";
  EXPECT_EQ(balancer->InFlight("i1"), 0);
  EXPECT_EQ(balancer->InFlight("x0"), 0);
}

TEST_P(BalancerTest, SameSeedSamePicks) {
  auto a = Make(7);
  auto b = Make(7);
  a->Update(Instances(8));
  b->Update(Instances(8));
  for (int i = 0; i < 500; ++i) {
    auto pa = a->Pick(Key(i));
    auto pb = b->Pick(Key(i));
    ASSERT_TRUE(pa && pb);
    ASSERT_EQ(pa->id, pb->id) << "pick " << i;
    a->OnStart(pa->id);
    b->OnStart(pb->id);
  }
}

TEST_P(BalancerTest, ConcurrentCallersLeaveConsistentCounts) {
  auto balancer = Make();
  balancer->Update(Instances(4));
  constexpr int kThreads = 4;
  constexpr int kPicks = 2000;
  std::vector<std::thread> threads;
  std::vector<int> picked(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPicks; ++i) {
        auto instance = balancer->Pick(Key(t * kPicks + i));
        if (!instance) continue;
        ++picked[t];
        balancer->OnStart(instance->id);
        balancer->OnFinish(instance->id);
        // Same set again mid-flight, as a Discovery refresh would send it.
        if (t == 0 && i % 500 == 0) balancer->Update(Instances(4));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(picked[t], kPicks);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(balancer->InFlight("i" + std::to_string(i)), 0);
}

INSTANTIATE_TEST_SUITE_P(AllKinds, BalancerTest,
                         ::testing::Values(BalancerKind::kRandom, BalancerKind::kRoundRobin,
                                           BalancerKind::kWeightedRandom,
                                           BalancerKind::kSmoothWeightedRoundRobin,
                                           BalancerKind::kConsistentHash,
                                           BalancerKind::kPowerOfTwoChoices),
                         [](const ::testing::TestParamInfo<BalancerKind>& info) {
                           switch (info.param) {
                             case BalancerKind::kRandom:
                               return "Random";
                             case BalancerKind::kRoundRobin:
                               return "RoundRobin";
                             case BalancerKind::kWeightedRandom:
                               return "WeightedRandom";
                             case BalancerKind::kSmoothWeightedRoundRobin:
                               return "SmoothWeightedRoundRobin";
                             case BalancerKind::kConsistentHash:
                               return "ConsistentHash";
                             case BalancerKind::kPowerOfTwoChoices:
                               return "PowerOfTwoChoices";
                           }
                           return "Unknown";
                         });

}  // namespace
}  // namespace pharos::client
