#include "client/leaky_bucket.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>

#include "client/token_bucket.h"
#include "common/clock.h"

namespace pharos::client {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(LeakyBucketTest, SpacesABurstOneIntervalApart) {
  FakeClock clock;
  LeakyBucket leaky(10, 5, &clock);
  for (int i = 0; i < 5; ++i) {
    Result<std::chrono::nanoseconds> leaves = leaky.Reserve();
    ASSERT_TRUE(leaves.ok()) << i;
    EXPECT_EQ(*leaves, milliseconds(100) * i);
  }
  EXPECT_DOUBLE_EQ(leaky.Level(), 5);
  Result<std::chrono::nanoseconds> full = leaky.Reserve();
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), StatusCode::kResourceExhausted);

  // A token bucket of the same size lets the same burst through all at once.
  TokenBucket tokens(10, 5, &clock);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(tokens.Reserve()->Delay(), nanoseconds(0));
}

TEST(LeakyBucketTest, AdmitsAgainAsItDrains) {
  FakeClock clock;
  LeakyBucket leaky(10, 5, &clock);
  ASSERT_TRUE(leaky.AllowN(5));
  clock.Advance(milliseconds(50));
  EXPECT_DOUBLE_EQ(leaky.Level(), 4.5);
  EXPECT_FALSE(leaky.Allow()) << "half a request has leaked; a whole one does not fit yet";
  clock.Advance(milliseconds(50));
  Result<std::chrono::nanoseconds> leaves = leaky.Reserve();
  ASSERT_TRUE(leaves.ok());
  // It queues behind the four still in the bucket.
  EXPECT_EQ(*leaves, milliseconds(400));
  EXPECT_FALSE(leaky.Allow());
}

TEST(LeakyBucketTest, AllowNTakesAllOrNothing) {
  FakeClock clock;
  LeakyBucket leaky(10, 5, &clock);
  EXPECT_TRUE(leaky.AllowN(3));
  EXPECT_FALSE(leaky.AllowN(3));
  EXPECT_TRUE(leaky.AllowN(2));
  EXPECT_TRUE(leaky.AllowN(0));
  EXPECT_FALSE(leaky.AllowN(-1));
  EXPECT_FALSE(LeakyBucket(10, 5, &clock).AllowN(6));
}

TEST(LeakyBucketTest, CapacityOneIsAPureMeter) {
  FakeClock clock;
  LeakyBucket meter(10, 1, &clock);
  EXPECT_TRUE(meter.Allow());
  clock.Advance(milliseconds(100) - nanoseconds(1));
  EXPECT_FALSE(meter.Allow());
  clock.Advance(nanoseconds(1));
  EXPECT_TRUE(meter.Allow());
  EXPECT_FALSE(meter.Allow());
}

TEST(LeakyBucketTest, SteadyRateOverTenSimulatedSeconds) {
  FakeClock clock;
  LeakyBucket leaky(100, 10, &clock);
  int admitted = 0;
  for (int ms = 0; ms < 10'000; ++ms) {
    for (int i = 0; i < 5; ++i) admitted += leaky.Allow();
    clock.Advance(milliseconds(1));
  }
  EXPECT_GE(admitted, 1000);
  EXPECT_LE(admitted, 1010);
}

TEST(LeakyBucketTest, AHighRateAdmitsNoMoreThanTheRatePlusTheCapacity) {
  FakeClock clock;
  // 3.33 ns a request: a 3 ns interval would let 3.33e8 a second through.
  LeakyBucket leaky(3e8, 1000, &clock);
  int64_t admitted = 0;
  for (int us = 0; us <= 1'000'000; ++us) {  // one simulated second
    while (leaky.AllowN(1000)) admitted += 1000;
    clock.Advance(microseconds(1));
  }
  EXPECT_LE(admitted, 300'000'000 + 1000);
  // Polled each microsecond, 1000 go every 4 µs rather than 3.33: they fit only in an empty
  // bucket, and it stays empty from 3.33 µs until the next poll.
  EXPECT_GE(admitted, 250'000'000);
}

TEST(LeakyBucketTest, AnUnusableRateAdmitsTheCapacityAndThenAboutNothing) {
  for (double rate : {0.0, -5.0, std::nan(""), 1e-300}) {
    SCOPED_TRACE(rate);
    FakeClock clock;
    LeakyBucket leaky(rate, 3, &clock);
    EXPECT_TRUE(leaky.AllowN(3));
    EXPECT_FALSE(leaky.Allow());
    clock.Advance(hours(24 * 365 * 10));
    EXPECT_FALSE(leaky.Allow()) << "drained within ten years";
  }
}

TEST(LeakyBucketTest, ABigCapacityAtASlowRateDoesNotOverflow) {
  FakeClock clock;
  // 1000 s a request: the time to drain a full bucket, 1e19 ns, is past what 64 bits of
  // nanoseconds hold.
  LeakyBucket leaky(0.001, 10'000'000, &clock);
  EXPECT_TRUE(leaky.AllowN(10'000'000)) << "the bucket starts empty";
  EXPECT_FALSE(leaky.Allow());
  EXPECT_NEAR(leaky.Level(), 10'000'000, 1e-6);
  clock.Advance(std::chrono::seconds(1000));
  EXPECT_TRUE(leaky.Allow());
  EXPECT_FALSE(leaky.Allow());
}

}  // namespace
}  // namespace pharos::client
