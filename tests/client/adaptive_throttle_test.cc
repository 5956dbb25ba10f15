#include "client/adaptive_throttle.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <vector>

#include "common/clock.h"

namespace pharos::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

AdaptiveThrottleOptions Seeded(uint64_t seed = 42) {
  AdaptiveThrottleOptions options;
  options.seed = seed;
  return options;
}

// Attempts n calls reporting `success`; returns how many were throttled locally.
int Attempt(AdaptiveThrottle& throttle, int n, bool success) {
  int throttled = 0;
  for (int i = 0; i < n; ++i) {
    Result<Permit> permit = throttle.TryAcquire();
    if (!permit.ok()) {
      ++throttled;
      continue;
    }
    success ? permit->Success() : permit->Failure();
  }
  return throttled;
}

TEST(AdaptiveThrottleTest, NeverThrottlesWhileTheBackendAccepts) {
  FakeClock clock;
  AdaptiveThrottle throttle(Seeded(), &clock);
  EXPECT_EQ(Attempt(throttle, 1000, true), 0);
  EXPECT_EQ(throttle.RejectProbability(), 0.0);
  // With K = 2, a backend that accepts half of its calls is still not throttled.
  EXPECT_EQ(Attempt(throttle, 1000, false), 0);
  EXPECT_EQ(throttle.RejectProbability(), 0.0);
}

TEST(AdaptiveThrottleTest, ProbabilityIsTheSreBookFormula) {
  for (double k : {2.0, 1.0, 1.5}) {
    SCOPED_TRACE(k);
    FakeClock clock;
    AdaptiveThrottleOptions options = Seeded();
    options.k = k;
    AdaptiveThrottle throttle(options, &clock);
    Attempt(throttle, 10, true);
    // Throttled attempts count as requests too, so these are 20 requests whatever the dice say.
    Attempt(throttle, 20, false);
    const auto counters = throttle.counters();
    EXPECT_EQ(counters.requests, 30u);
    EXPECT_EQ(counters.accepts, 10u);
    EXPECT_DOUBLE_EQ(throttle.RejectProbability(), std::max(0.0, (30 - k * 10) / 31));
  }
}

TEST(AdaptiveThrottleTest, RejectionRateMatchesTheProbability) {
  FakeClock clock;
  AdaptiveThrottle throttle(Seeded(7), &clock);
  Attempt(throttle, 1000, true);
  // Failures until requests − 2 × accepts ≈ half of requests: p ≈ 0.5.
  while (throttle.counters().requests < 4001) Attempt(throttle, 1, false);
  ASSERT_NEAR(throttle.RejectProbability(), 0.5, 1e-3);

  // Each attempt is a coin with the probability shown just before it; the sum of those coins
  // must land within a few standard deviations of its mean.
  const uint64_t throttled_before = throttle.counters().throttled;
  double expected = 0;
  double variance = 0;
  int throttled = 0;
  for (int i = 0; i < 4000; ++i) {
    const double p = throttle.RejectProbability();
    expected += p;
    variance += p * (1 - p);
    throttled += Attempt(throttle, 1, false);
  }
  EXPECT_GT(expected, 2000);  // the coins are far from fair: a wrong decision rule shows
  EXPECT_NEAR(throttled, expected, 4 * std::sqrt(variance));
  EXPECT_EQ(throttle.counters().throttled - throttled_before, static_cast<uint64_t>(throttled));
}

TEST(AdaptiveThrottleTest, StopsThrottlingAsAcceptsRecover) {
  FakeClock clock;
  AdaptiveThrottle throttle(Seeded(), &clock);
  Attempt(throttle, 100, true);
  Attempt(throttle, 900, false);
  ASSERT_GT(throttle.RejectProbability(), 0.7);
  ASSERT_GT(Attempt(throttle, 100, false), 50);

  // The backend recovers: every call that goes out is accepted, and since requests grow by one
  // per attempt but accepts by one per admitted call, p falls until K × accepts ≥ requests.
  int rounds = 0;
  while (throttle.RejectProbability() > 0) {
    Attempt(throttle, 1, true);
    ASSERT_LT(++rounds, 100'000);
  }
  EXPECT_EQ(Attempt(throttle, 1000, true), 0);
}

TEST(AdaptiveThrottleTest, OldRequestsRollOutOfTheWindow) {
  FakeClock clock;
  AdaptiveThrottle throttle(Seeded(), &clock);
  Attempt(throttle, 1000, false);
  ASSERT_GT(throttle.RejectProbability(), 0.99);
  clock.Advance(minutes(2) - seconds(2));
  EXPECT_GT(throttle.RejectProbability(), 0.99) << "still inside the two-minute window";
  clock.Advance(seconds(2));
  EXPECT_EQ(throttle.RejectProbability(), 0.0);
  EXPECT_EQ(Attempt(throttle, 100, true), 0);
}

TEST(AdaptiveThrottleTest, RunReturnsUnavailableWhenThrottled) {
  FakeClock clock;
  AdaptiveThrottle throttle(Seeded(), &clock);
  Attempt(throttle, 1000, false);
  int calls = 0;
  int refused = 0;
  for (int i = 0; i < 100; ++i) {
    Status s = throttle.Run([&] {
      ++calls;
      return Status::Unavailable("overloaded");
    });
    if (s == Status::Unavailable("throttled locally")) ++refused;
  }
  EXPECT_GT(refused, 90);
  EXPECT_EQ(calls + refused, 100);
}

TEST(AdaptiveThrottleTest, SameSeedSameDecisions) {
  auto decisions = [](uint64_t seed) {
    FakeClock clock;
    AdaptiveThrottle throttle(Seeded(seed), &clock);
    Attempt(throttle, 10, true);
    std::vector<bool> out;
    for (int i = 0; i < 200; ++i) {
      Result<Permit> permit = throttle.TryAcquire();
      out.push_back(permit.ok());
      if (permit.ok()) permit->Failure();
    }
    return out;
  };
  EXPECT_EQ(decisions(1), decisions(1));
  EXPECT_NE(decisions(1), decisions(2));
}

// A caller that read the clock just before a slice boundary can reach the lock after others have
// counted in the next slice. With one bucket, counting it in the slice it read would reuse the
// bucket for that slice and forget every newer request, so the throttle would stop throttling.
TEST(AdaptiveThrottleTest, CallerLateFromThePreviousSliceCountsInTheCurrentOne) {
  FakeClock clock;
  AdaptiveThrottleOptions options = Seeded();
  options.window = seconds(1);
  options.buckets = 1;
  AdaptiveThrottle throttle(options, &clock);
  clock.Advance(seconds(1));
  Attempt(throttle, 100, false);
  ASSERT_DOUBLE_EQ(throttle.RejectProbability(), 100.0 / 101);
  clock.Advance(-milliseconds(1));  // the late caller's reading
  Attempt(throttle, 1, false);
  clock.Advance(milliseconds(1));
  EXPECT_DOUBLE_EQ(throttle.RejectProbability(), 101.0 / 102);
}

// OUTCOME_UNKNOWN means the backend never answered, so it is no accept: a backend that drops
// every connection must get throttled like one that refuses every call.
TEST(AdaptiveThrottleTest, UnknownOutcomeIsNoAccept) {
  FakeClock clock;
  AdaptiveThrottle throttle(Seeded(), &clock);
  for (int i = 0; i < 10; ++i) {
    (void)throttle.Run([] { return Status::OutcomeUnknown("connection lost after sending"); });
  }
  EXPECT_EQ(throttle.counters().accepts, 0u);
  EXPECT_DOUBLE_EQ(throttle.RejectProbability(), 10.0 / 11);
}

}  // namespace
}  // namespace pharos::client
