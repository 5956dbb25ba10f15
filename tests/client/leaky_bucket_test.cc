#include "client/leaky_bucket.h"

#include <gtest/gtest.h>

#include <chrono>

#include "client/token_bucket.h"
#include "common/clock.h"

namespace pharos::client {
namespace {

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

}  // namespace
}  // namespace pharos::client
