#include "client/event_interval.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>

namespace pharos::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using Ticks = EventInterval::Ticks;

constexpr Ticks kTicksPerNanosecond = Ticks{1} << EventInterval::kTickBits;

TEST(EventIntervalTest, ARateThatDividesASecondIntoNanosecondsIsExact) {
  EXPECT_EQ(EventInterval(100).ticks(), Ticks{10'000'000} * kTicksPerNanosecond);
  EXPECT_EQ(EventInterval(1e6).ticks(), Ticks{1'000} * kTicksPerNanosecond);
  EXPECT_EQ(EventInterval(0.5).ticks(), Ticks{2'000'000'000} * kTicksPerNanosecond);
  EXPECT_EQ(EventInterval::ToNanoseconds(EventInterval(100).Of(3)), milliseconds(30));
}

TEST(EventIntervalTest, AHighRateKeepsTheFractionOfANanosecond) {
  // 3.33 ns an event: whole nanoseconds would make it 3, and 3.33e8 events a second.
  const EventInterval interval(3e8);
  const Ticks second = EventInterval::ToTicks(std::chrono::seconds(1));
  EXPECT_LE(interval.EventsIn(second), 3e8);
  EXPECT_GT(interval.EventsIn(second), 3e8 - 1);
  // Rounded up, never down: a limiter built on it errs towards admitting less.
  EXPECT_GE(interval.ticks() * 3, 10 * kTicksPerNanosecond);
  EXPECT_LT(interval.ticks() * 3, 10 * kTicksPerNanosecond + 3);
}

TEST(EventIntervalTest, UnusableRatesAreClamped) {
  EXPECT_EQ(EventInterval::ClampRate(0), EventInterval::kMinRate);
  EXPECT_EQ(EventInterval::ClampRate(-3), EventInterval::kMinRate);
  EXPECT_EQ(EventInterval::ClampRate(std::nan("")), EventInterval::kMinRate);
  EXPECT_EQ(EventInterval::ClampRate(1e-300), EventInterval::kMinRate);
  EXPECT_EQ(EventInterval::ClampRate(std::numeric_limits<double>::infinity()),
            EventInterval::kMaxRate);
  EXPECT_EQ(EventInterval::ClampRate(1e300), EventInterval::kMaxRate);
  EXPECT_EQ(EventInterval::ClampRate(42), 42);
  EXPECT_EQ(EventInterval(0).rate(), EventInterval::kMinRate);
  EXPECT_GE(EventInterval(EventInterval::kMaxRate).ticks(), 1);
}

TEST(EventIntervalTest, SpansSaturateInsteadOfOverflowing) {
  const EventInterval slowest(EventInterval::kMinRate);
  EXPECT_EQ(slowest.Of(std::numeric_limits<int64_t>::max()), EventInterval::kMaxSpan);
  EXPECT_EQ(slowest.Of(1'000'000'000), EventInterval::kMaxSpan);
  EXPECT_EQ(slowest.Of(0), 0);
  EXPECT_EQ(slowest.Of(-1), 0);
  EXPECT_EQ(EventInterval::ToNanoseconds(EventInterval::kMaxSpan), nanoseconds::max());
  EXPECT_EQ(EventInterval::ToNanoseconds(EventInterval::kMaxSpan * 4), nanoseconds::max());
}

TEST(EventIntervalTest, TimesGoBackToNanosecondsRoundedUp) {
  EXPECT_EQ(EventInterval::ToNanoseconds(1), nanoseconds(1));
  EXPECT_EQ(EventInterval::ToNanoseconds(kTicksPerNanosecond), nanoseconds(1));
  EXPECT_EQ(EventInterval::ToNanoseconds(kTicksPerNanosecond + 1), nanoseconds(2));
  EXPECT_EQ(EventInterval::ToNanoseconds(-1), nanoseconds(0));
  EXPECT_EQ(EventInterval::ToNanoseconds(-kTicksPerNanosecond - 1), nanoseconds(-1));
  const Clock::TimePoint t(nanoseconds(123'456'789));
  EXPECT_EQ(EventInterval::ToTimePoint(EventInterval::ToTicks(t)), t);
  EXPECT_EQ(EventInterval::ToTimePoint(EventInterval::ToTicks(t) + 1), t + nanoseconds(1));
}

}  // namespace
}  // namespace pharos::client
