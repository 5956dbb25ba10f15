// EventInterval: the time between two events at a rate, and the time arithmetic of the limiters
// that space events out by it (TokenBucket, LeakyBucket). Whole nanoseconds are too coarse for
// that: at 3e8/s events are 3.33 ns apart, and a 3 ns interval lets 11% more through. So those
// limiters keep time in ticks of 2^-32 ns. The interval is rounded up to a whole tick, which
// errs towards admitting less, by under one part in 1e6 at kMaxRate and far less at any rate a
// service meets (under 1e-10 at 3e8/s); a rate that divides a second into whole nanoseconds (100/s,
// 1e6/s) is exact. Times go back to whole nanoseconds only when a caller is told one, rounded up,
// so nobody is told to act early.
//
// A rate outside [kMinRate, kMaxRate] is clamped into it, as the SDK's constructors clamp other
// unusable arguments (a limiter window of 0 becomes 1 ns): NaN, zero and negative rates become
// kMinRate (fail closed: a limiter that refills about never), +infinity becomes kMaxRate. Spans
// saturate at kMaxSpan, so interval × burst never overflows whatever the burst, and a span as
// long as any clock can show is still exact.
//
// Thread rules: an immutable value; the static helpers are pure.
#pragma once

#include <chrono>
#include <cstdint>

#include "common/clock.h"

namespace pharos::client {

class EventInterval {
 public:
  // 2^-32 ns. 128 bits hold any steady-clock time in ticks with room for sums of spans.
  using Ticks = __int128;
  static constexpr int kTickBits = 32;
  // One event in about 32 years: slower is "never" for any process.
  static constexpr double kMinRate = 1e-9;
  // A thousand events per nanosecond: faster is "unlimited" for any process.
  static constexpr double kMaxRate = 1e12;
  // The longest span of events: about 9.6 million years, far past the clock's 292 years, and far
  // enough below 2^127 that sums of a time and a few spans never overflow.
  static constexpr Ticks kMaxSpan = Ticks{1} << 110;

  // The rate an EventInterval built from `rate_per_second` runs at.
  static double ClampRate(double rate_per_second);

  explicit EventInterval(double rate_per_second);

  double rate() const { return rate_; }
  // One event's worth of time, at least one tick.
  Ticks ticks() const { return ticks_; }
  // The time n events take, saturating at kMaxSpan; zero for n ≤ 0.
  Ticks Of(int64_t n) const;
  // How many events fit in `span` (fractional).
  double EventsIn(Ticks span) const;

  static Ticks ToTicks(Clock::TimePoint time);
  static Ticks ToTicks(std::chrono::nanoseconds duration);
  // Rounded up to the nanosecond, saturating at the clock's range.
  static Clock::TimePoint ToTimePoint(Ticks time);
  static std::chrono::nanoseconds ToNanoseconds(Ticks duration);

 private:
  double rate_;
  Ticks ticks_;
};

}  // namespace pharos::client
