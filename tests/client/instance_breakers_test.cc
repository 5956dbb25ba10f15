#include "client/instance_breakers.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "common/clock.h"

namespace pharos::client {
namespace {

using std::chrono::milliseconds;

void Fail(const std::shared_ptr<CircuitBreaker>& breaker, int n) {
  for (int i = 0; i < n; ++i) {
    Result<Permit> permit = breaker->TryAcquire();
    ASSERT_TRUE(permit.ok());
    permit->Failure();
  }
}

TEST(InstanceBreakersTest, OneBreakerPerInstanceCreatedOnFirstUse) {
  FakeClock clock;
  CircuitBreakerOptions options;
  options.request_volume_threshold = 5;
  InstanceBreakers breakers(options, &clock);
  EXPECT_EQ(breakers.size(), 0u);
  std::shared_ptr<CircuitBreaker> a = breakers.For("a");
  EXPECT_EQ(breakers.For("a"), a);
  EXPECT_NE(breakers.For("b"), a);
  EXPECT_EQ(breakers.size(), 2u);
  EXPECT_EQ(a->options().request_volume_threshold, 5);
}

TEST(InstanceBreakersTest, OneSickInstanceLeavesTheOthersAvailable) {
  FakeClock clock;
  InstanceBreakers breakers({}, &clock);
  Fail(breakers.For("a"), 20);
  breakers.For("b")->TryAcquire()->Success();
  EXPECT_FALSE(breakers.Available("a"));
  EXPECT_TRUE(breakers.Available("b"));
  EXPECT_EQ(breakers.For("b")->state(), CircuitState::kClosed);
}

TEST(InstanceBreakersTest, UnknownInstanceIsAvailableWithoutCreatingABreaker) {
  FakeClock clock;
  InstanceBreakers breakers({}, &clock);
  EXPECT_TRUE(breakers.Available("never-called"));
  EXPECT_EQ(breakers.size(), 0u);
}

TEST(InstanceBreakersTest, AvailableTakesNoHalfOpenProbe) {
  FakeClock clock;
  InstanceBreakers breakers({}, &clock);
  Fail(breakers.For("a"), 20);
  clock.Advance(milliseconds(4'999));
  EXPECT_FALSE(breakers.Available("a"));
  clock.Advance(milliseconds(1));
  // A balancer asks on every pick; asking must leave the probe for the call.
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(breakers.Available("a"));
  Result<Permit> probe = breakers.For("a")->TryAcquire();
  ASSERT_TRUE(probe.ok());
  EXPECT_FALSE(breakers.Available("a")) << "the only probe is out";
  probe->Success();
  EXPECT_TRUE(breakers.Available("a"));
  EXPECT_EQ(breakers.For("a")->state(), CircuitState::kClosed);
}

TEST(InstanceBreakersTest, CallbackNamesTheInstanceThatMoved) {
  FakeClock clock;
  std::vector<std::tuple<std::string, CircuitState, CircuitState>> seen;
  InstanceBreakers breakers({}, &clock,
                            [&](const std::string& id, CircuitState from, CircuitState to) {
                              seen.emplace_back(id, from, to);
                            });
  Fail(breakers.For("b"), 20);
  Fail(breakers.For("a"), 19);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], std::make_tuple(std::string("b"), CircuitState::kClosed, CircuitState::kOpen));
}

TEST(InstanceBreakersTest, RetainDropsTheBreakersOfInstancesThatLeft) {
  FakeClock clock;
  InstanceBreakers breakers({}, &clock);
  // Instances come and go over a service's life; only the live ones may cost memory.
  for (int i = 0; i < 100; ++i) breakers.For("gone-" + std::to_string(i));
  std::shared_ptr<CircuitBreaker> live = breakers.For("live");
  Fail(live, 20);
  breakers.Retain({"live", "never-called"});
  EXPECT_EQ(breakers.size(), 1u);
  EXPECT_EQ(breakers.For("live"), live) << "a live instance keeps its breaker and its history";
  EXPECT_FALSE(breakers.Available("live"));
  EXPECT_EQ(breakers.size(), 1u) << "Retain creates nothing for ids never used";
  breakers.Retain({});
  EXPECT_EQ(breakers.size(), 0u);
  EXPECT_TRUE(breakers.Available("live")) << "back under the same id: a fresh breaker";
}

TEST(InstanceBreakersTest, ABreakerDroppedMidCallLivesUntilItsPermitIsReported) {
  FakeClock clock;
  std::vector<std::tuple<std::string, CircuitState, CircuitState>> seen;
  InstanceBreakers breakers({.request_volume_threshold = 1}, &clock,
                            [&](const std::string& id, CircuitState from, CircuitState to) {
                              seen.emplace_back(id, from, to);
                            });
  // The call as a caller writes it: the breaker itself is not held, only the permit.
  Result<Permit> permit = breakers.For("a")->TryAcquire();
  ASSERT_TRUE(permit.ok());
  std::weak_ptr<CircuitBreaker> breaker = breakers.For("a");
  // The instance leaves (Discovery's callback, another thread) while the call is in flight.
  breakers.Retain({});
  EXPECT_EQ(breakers.size(), 0u);
  ASSERT_FALSE(breaker.expired()) << "freed under a permit still to be reported";
  permit->Failure();
  EXPECT_TRUE(breaker.expired()) << "kept after its last permit was reported";
  ASSERT_EQ(seen.size(), 1u) << "the report still reached the breaker";
  EXPECT_EQ(seen[0], std::make_tuple(std::string("a"), CircuitState::kClosed, CircuitState::kOpen));
}

}  // namespace
}  // namespace pharos::client
