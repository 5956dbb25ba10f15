// RateLimiter: what every rate limiter can answer — may these requests go now? — so a caller can
// hold any of them: FixedWindowLimiter, SlidingWindowLimiter, LeakyBucket, TokenBucket. Each adds
// what only it can do (a token bucket reserves and waits; a leaky bucket tells when a request
// leaks through).
//
// Thread rules: every implementation is thread-safe and reads time only from the Clock it was
// given, so tests drive it with a FakeClock.
#pragma once

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

}  // namespace pharos::client
