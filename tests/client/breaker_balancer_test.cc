// Per-instance breakers plugged into a balancer: an instance whose breaker is open is skipped,
// and comes back once its sleep window has passed.
#include <gtest/gtest.h>

#include <map>

#include "client/balancer.h"
#include "client/instance_breakers.h"

namespace pharos::client {
namespace {

TEST(BreakerBalancerTest, AnOpenInstanceIsSkippedUntilItsSleepWindowPasses) {
  FakeClock clock;
  InstanceBreakers breakers(
      {.request_volume_threshold = 3, .sleep_window = std::chrono::seconds(5)}, &clock);
  for (auto kind : {BalancerKind::kRoundRobin, BalancerKind::kSmoothWeightedRoundRobin,
                    BalancerKind::kConsistentHash, BalancerKind::kPowerOfTwoChoices}) {
    auto balancer = MakeBalancer(kind, {.seed = 7});
    balancer->Update(
        {{"a", "svc", "10.0.0.1", 1, 1, "", "", {}}, {"b", "svc", "10.0.0.2", 1, 1, "", "", {}}});
    balancer->SetAvailability([&](const ServiceInstance& i) { return breakers.Available(i.id); });
    // Three failed calls to "a" open its breaker.
    while (breakers.Available("a")) {
      auto permit = breakers.For("a")->TryAcquire();
      ASSERT_TRUE(permit.ok());
      permit->Failure();
    }
    std::map<std::string, int> picks;
    for (int i = 0; i < 100; ++i) ++picks[balancer->Pick({.hash_key = std::to_string(i)})->id];
    EXPECT_EQ(picks["a"], 0);
    EXPECT_EQ(picks["b"], 100);
    // After the sleep window "a" may be probed again, so it is offered again.
    clock.Advance(std::chrono::seconds(5));
    picks.clear();
    for (int i = 0; i < 100; ++i) ++picks[balancer->Pick({.hash_key = std::to_string(i)})->id];
    EXPECT_GT(picks["a"], 0);
    // A successful probe closes it for good.
    auto probe = breakers.For("a")->TryAcquire();
    ASSERT_TRUE(probe.ok());
    probe->Success();
    EXPECT_EQ(breakers.For("a")->state(), CircuitState::kClosed);
  }
}

}  // namespace
}  // namespace pharos::client
