#include "client/sliding_window_limiter.h"

#include <gtest/gtest.h>

#include <chrono>

#include "client/fixed_window_limiter.h"
#include "common/clock.h"

namespace pharos::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

int AllowMany(RateLimiter& limiter, int attempts) {
  int admitted = 0;
  for (int i = 0; i < attempts; ++i) admitted += limiter.Allow();
  return admitted;
}

TEST(SlidingWindowLimiterTest, AdmitsTheLimitFromIdle) {
  FakeClock clock;
  SlidingWindowLimiter limiter(100, seconds(1), &clock);
  EXPECT_EQ(AllowMany(limiter, 150), 100);
  EXPECT_DOUBLE_EQ(limiter.Estimate(), 100);
  EXPECT_FALSE(limiter.AllowN(-1));
}

// The fixed window's boundary burst, replayed: the previous window still weighs on the next.
TEST(SlidingWindowLimiterTest, SmoothsTheFixedWindowBoundary) {
  FakeClock clock;
  SlidingWindowLimiter sliding(100, seconds(1), &clock);
  FixedWindowLimiter fixed(100, seconds(1), &clock);
  clock.Advance(milliseconds(999));
  EXPECT_EQ(AllowMany(sliding, 150), 100);
  EXPECT_EQ(AllowMany(fixed, 150), 100);
  clock.Advance(milliseconds(1));
  EXPECT_EQ(AllowMany(sliding, 150), 0) << "the last window's 100 still fill this one";
  EXPECT_EQ(AllowMany(fixed, 150), 100);

  // Half-way through, half of the previous window has slid out: exactly 50 fit.
  clock.Advance(milliseconds(500));
  EXPECT_DOUBLE_EQ(sliding.Estimate(), 50);
  EXPECT_EQ(AllowMany(sliding, 150), 50);
}

TEST(SlidingWindowLimiterTest, PreviousWindowWeighsLessAsItSlidesOut) {
  FakeClock clock;
  SlidingWindowLimiter limiter(100, seconds(1), &clock);
  ASSERT_EQ(AllowMany(limiter, 80), 80);
  clock.Advance(milliseconds(1250));
  EXPECT_DOUBLE_EQ(limiter.Estimate(), 60);
  EXPECT_EQ(AllowMany(limiter, 100), 40);
  clock.Advance(milliseconds(500));
  EXPECT_DOUBLE_EQ(limiter.Estimate(), 80 * 0.25 + 40);
  EXPECT_EQ(AllowMany(limiter, 100), 40);
  clock.Advance(seconds(1));
  EXPECT_DOUBLE_EQ(limiter.Estimate(), 80 * 0.25) << "the 80 of the window just past, weighted";
  clock.Advance(seconds(1));
  EXPECT_DOUBLE_EQ(limiter.Estimate(), 0) << "two windows on, nothing is left";
  EXPECT_EQ(AllowMany(limiter, 150), 100);
}

TEST(SlidingWindowLimiterTest, SteadyRateOverTenSimulatedSeconds) {
  FakeClock clock;
  SlidingWindowLimiter limiter(100, seconds(1), &clock);
  int admitted = 0;
  for (int ms = 0; ms < 10'000; ++ms) {
    admitted += AllowMany(limiter, 3);
    clock.Advance(milliseconds(1));
  }
  // No aligned window can take more than the limit (the previous one only ever adds weight), and
  // the weighted previous window costs at most a request or two per window.
  EXPECT_LE(admitted, 1000);
  EXPECT_GE(admitted, 1000 - 2 * 10);
}

// A caller that read the clock just before a boundary can reach the lock after the next window
// has filled. Judged in the window it read, it would find that window's counters gone, take the
// window back and throw the newer count away; it must be judged in the current window instead.
TEST(SlidingWindowLimiterTest, CallerLateFromThePreviousWindowCountsInTheCurrentOne) {
  FakeClock clock;
  SlidingWindowLimiter limiter(100, seconds(1), &clock);
  clock.Advance(seconds(5));
  ASSERT_EQ(AllowMany(limiter, 150), 100);
  clock.Advance(-milliseconds(1));  // the late caller's reading
  EXPECT_FALSE(limiter.Allow());
  clock.Advance(milliseconds(1));
  EXPECT_FALSE(limiter.Allow());
  EXPECT_DOUBLE_EQ(limiter.Estimate(), 100);
}

}  // namespace
}  // namespace pharos::client
