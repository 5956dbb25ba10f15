#include "client/token_bucket.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

#include "client/event_interval.h"
#include "common/clock.h"

namespace pharos::client {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(TokenBucketTest, FullBucketAdmitsExactlyBurstThenOnePerInterval) {
  FakeClock clock;
  TokenBucket bucket(100, 10, &clock);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(bucket.Allow()) << i;
  EXPECT_FALSE(bucket.Allow());
  for (int i = 0; i < 5; ++i) {
    clock.Advance(milliseconds(10) - nanoseconds(1));
    EXPECT_FALSE(bucket.Allow());
    clock.Advance(nanoseconds(1));
    EXPECT_TRUE(bucket.Allow());
    EXPECT_FALSE(bucket.Allow());
  }
}

TEST(TokenBucketTest, HoldsNoMoreThanBurstAfterIdling) {
  FakeClock clock;
  TokenBucket bucket(100, 10, &clock);
  clock.Advance(seconds(60));
  EXPECT_DOUBLE_EQ(bucket.Tokens(), 10);
  int admitted = 0;
  while (bucket.Allow()) ++admitted;
  EXPECT_EQ(admitted, 10);
}

TEST(TokenBucketTest, SteadyRateOverTenSimulatedSeconds) {
  FakeClock clock;
  TokenBucket bucket(100, 10, &clock);
  int admitted = 0;
  for (int ms = 0; ms < 10'000; ++ms) {
    for (int i = 0; i < 5; ++i) admitted += bucket.Allow();
    clock.Advance(milliseconds(1));
  }
  // 1000 refills plus the 10 the bucket started with; nothing more, however hard it is pushed.
  EXPECT_GE(admitted, 1000);
  EXPECT_LE(admitted, 1010);
}

TEST(TokenBucketTest, AHighRateAdmitsNoMoreThanTheRatePlusTheBurst) {
  FakeClock clock;
  // 3.33 ns a token: a 3 ns interval would admit 3.33e8 a second.
  TokenBucket bucket(3e8, 1000, &clock);
  int64_t admitted = 0;
  for (int us = 0; us <= 1'000'000; ++us) {  // one simulated second
    while (bucket.AllowN(1000)) admitted += 1000;
    clock.Advance(microseconds(1));
  }
  EXPECT_LE(admitted, 300'000'000 + 1000);
  // Polled each microsecond, 1000 go every 4 µs rather than 3.33: the bucket holds no more than
  // 1000, so what drips in after it is full is lost.
  EXPECT_GE(admitted, 250'000'000);
}

TEST(TokenBucketTest, AnUnusableRateAdmitsTheBurstAndThenAboutNothing) {
  for (double rate : {0.0, -5.0, std::nan(""), 1e-300}) {
    SCOPED_TRACE(rate);
    FakeClock clock;
    TokenBucket bucket(rate, 3, &clock);
    EXPECT_EQ(bucket.rate(), EventInterval::kMinRate);
    EXPECT_TRUE(bucket.AllowN(3));
    EXPECT_FALSE(bucket.Allow());
    clock.Advance(hours(24 * 365 * 10));
    EXPECT_FALSE(bucket.Allow()) << "refilled within ten years";
    EXPECT_EQ(bucket.Wait(1, clock.Now() + hours(24 * 365)).code(), StatusCode::kDeadlineExceeded);
  }
}

TEST(TokenBucketTest, ABigBurstAtASlowRateDoesNotOverflow) {
  FakeClock clock;
  // 1000 s a token: the time to fill the bucket, 1e19 ns, is past what 64 bits of nanoseconds
  // hold.
  TokenBucket bucket(0.001, 10'000'000, &clock);
  EXPECT_TRUE(bucket.AllowN(10'000'000)) << "the bucket starts full";
  EXPECT_FALSE(bucket.AllowN(10'000'000)) << "and was just emptied";
  EXPECT_NEAR(bucket.Tokens(), 0, 1e-6);
  clock.Advance(std::chrono::seconds(1000));
  EXPECT_TRUE(bucket.Allow());
  EXPECT_FALSE(bucket.Allow());
}

TEST(TokenBucketTest, ReservationsPiledUpAtTheSlowestRateStopShortOfOverflow) {
  FakeClock clock;
  TokenBucket bucket(0, 1'000'000, &clock);
  int reserved = 0;
  Result<TokenBucket::Reservation> r = bucket.Reserve(1'000'000);
  for (; r.ok() && reserved < 100; ++reserved) r = bucket.Reserve(1'000'000);
  ASSERT_FALSE(r.ok()) << "a thousand million years of debt, and counting";
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(bucket.Reserve(0).ok());
}

TEST(TokenBucketTest, AllowNTakesAllOrNothing) {
  FakeClock clock;
  TokenBucket bucket(1, 5, &clock);
  EXPECT_TRUE(bucket.AllowN(3));
  EXPECT_FALSE(bucket.AllowN(3));
  EXPECT_DOUBLE_EQ(bucket.Tokens(), 2);
  EXPECT_TRUE(bucket.AllowN(2));
  EXPECT_TRUE(bucket.AllowN(0));
  clock.Advance(seconds(100));
  EXPECT_FALSE(bucket.AllowN(6)) << "more than the bucket can ever hold";
  EXPECT_FALSE(bucket.AllowN(-1));
  EXPECT_DOUBLE_EQ(bucket.Tokens(), 5);
}

TEST(TokenBucketTest, ReserveReturnsTheWaitAndGoesIntoDebt) {
  FakeClock clock;
  TokenBucket bucket(10, 2, &clock);
  Result<TokenBucket::Reservation> now = bucket.Reserve(2);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->Delay(), nanoseconds(0));
  Result<TokenBucket::Reservation> one = bucket.Reserve(1);
  Result<TokenBucket::Reservation> two = bucket.Reserve(2);
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_EQ(one->Delay(), milliseconds(100));
  EXPECT_EQ(two->Delay(), milliseconds(300));
  EXPECT_DOUBLE_EQ(bucket.Tokens(), -3);
  clock.Advance(milliseconds(250));
  EXPECT_EQ(one->Delay(), nanoseconds(0));
  EXPECT_EQ(two->Delay(), milliseconds(50));
  EXPECT_FALSE(bucket.Allow());
}

TEST(TokenBucketTest, ReserveMoreThanBurstIsRefused) {
  FakeClock clock;
  TokenBucket bucket(10, 2, &clock);
  Result<TokenBucket::Reservation> r = bucket.Reserve(3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_DOUBLE_EQ(bucket.Tokens(), 2);
}

TEST(TokenBucketTest, CancelRestoresTheTokens) {
  FakeClock clock;
  TokenBucket bucket(1, 5, &clock);
  ASSERT_TRUE(bucket.AllowN(5));
  Result<TokenBucket::Reservation> r = bucket.Reserve(2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Delay(), seconds(2));
  EXPECT_DOUBLE_EQ(bucket.Tokens(), -2);
  r->Cancel();
  EXPECT_DOUBLE_EQ(bucket.Tokens(), 0);
  clock.Advance(seconds(1));
  EXPECT_TRUE(bucket.Allow()) << "without the cancel the bucket would still be in debt";
  r->Cancel();  // twice restores once
  EXPECT_FALSE(bucket.Allow());
}

TEST(TokenBucketTest, CancelKeepsTokensPromisedToLaterReservations) {
  FakeClock clock;
  TokenBucket bucket(1, 5, &clock);
  ASSERT_TRUE(bucket.AllowN(5));
  Result<TokenBucket::Reservation> first = bucket.Reserve(2);   // acts at 2 s
  Result<TokenBucket::Reservation> second = bucket.Reserve(1);  // acts at 3 s
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_DOUBLE_EQ(bucket.Tokens(), -3);
  // Only the token beyond the later reservation's time comes back (as in Go's x/time/rate).
  first->Cancel();
  EXPECT_DOUBLE_EQ(bucket.Tokens(), -2);
  second->Cancel();
  EXPECT_DOUBLE_EQ(bucket.Tokens(), -1);
}

TEST(TokenBucketTest, CancelAfterTheTimeToActDoesNothing) {
  FakeClock clock;
  TokenBucket bucket(1, 5, &clock);
  ASSERT_TRUE(bucket.AllowN(5));
  Result<TokenBucket::Reservation> r = bucket.Reserve(1);
  ASSERT_TRUE(r.ok());
  clock.Advance(seconds(1) + nanoseconds(1));
  r->Cancel();
  EXPECT_NEAR(bucket.Tokens(), 0, 1e-6) << "the token was used when its time came";
}

class TokenBucketWaitTest : public ::testing::Test {
 protected:
  // Sleeping advances the fake clock, so Wait runs instantly and its sleeps can be checked.
  TokenBucket::Sleeper Sleeper() {
    return [this](std::chrono::nanoseconds d) {
      slept_.push_back(d);
      clock_.Advance(d);
    };
  }

  FakeClock clock_;
  std::vector<std::chrono::nanoseconds> slept_;
};

TEST_F(TokenBucketWaitTest, ReturnsAtOnceWhenTokensAreThere) {
  TokenBucket bucket(10, 3, &clock_, Sleeper());
  EXPECT_TRUE(bucket.Wait(3, clock_.Now()).ok());
  EXPECT_TRUE(slept_.empty());
}

TEST_F(TokenBucketWaitTest, SleepsUntilTheTokensCome) {
  TokenBucket bucket(10, 3, &clock_, Sleeper());
  ASSERT_TRUE(bucket.AllowN(3));
  const Clock::TimePoint start = clock_.Now();
  EXPECT_TRUE(bucket.Wait(2).ok());
  EXPECT_EQ(slept_, std::vector<std::chrono::nanoseconds>{milliseconds(200)});
  EXPECT_EQ(clock_.Now() - start, milliseconds(200));
  EXPECT_TRUE(bucket.Wait(1, clock_.Now() + milliseconds(100)).ok()) << "a deadline just met";
  EXPECT_EQ(clock_.Now() - start, milliseconds(300));
}

TEST_F(TokenBucketWaitTest, DeadlineTooSoonFailsAtOnceAndTakesNothing) {
  TokenBucket bucket(10, 3, &clock_, Sleeper());
  ASSERT_TRUE(bucket.AllowN(3));
  Status s = bucket.Wait(1, clock_.Now() + milliseconds(100) - nanoseconds(1));
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(slept_.empty());
  EXPECT_DOUBLE_EQ(bucket.Tokens(), 0);
  EXPECT_EQ(bucket.Wait(1, clock_.Now() - nanoseconds(1)).code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(bucket.Wait(4).code(), StatusCode::kInvalidArgument) << "can never be served";
  EXPECT_TRUE(slept_.empty());
}

}  // namespace
}  // namespace pharos::client
