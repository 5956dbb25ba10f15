// RateLimiter: what every rate limiter can answer — may these requests go now? — so a caller can
// hold any of them: FixedWindowLimiter, SlidingWindowLimiter, LeakyBucket, TokenBucket. Each adds
// what only it can do (a token bucket reserves and waits; a leaky bucket tells when a request
// leaks through).
//
// Thread rules: every implementation is thread-safe and reads time only from the Clock it was
// given, so tests drive it with a FakeClock.
#pragma once

#include <chrono>
#include <cstdint>

#include "common/clock.h"

namespace pharos::client {

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;

  bool Allow() { return AllowN(1); }
  // Takes n permits at once or none. AllowN(0) is true; a negative n is false.
  virtual bool AllowN(int64_t n) = 0;
};

// The time between two events at `rate_per_second`, rounded to the nanosecond (at least one).
// Limiters count time in whole intervals, so their arithmetic is exact: 100/s is exactly 10 ms per
// event, and a rate that does not divide a second evenly is off by under a nanosecond per event.
inline std::chrono::nanoseconds IntervalOf(double rate_per_second) {
  const double ns = 1e9 / rate_per_second + 0.5;
  return std::chrono::nanoseconds(ns < 1 ? 1 : static_cast<std::chrono::nanoseconds::rep>(ns));
}

}  // namespace pharos::client
