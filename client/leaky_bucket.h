// LeakyBucket: a queue that drains at a fixed rate. Admitted requests leave the bucket exactly
// 1/rate apart however they arrived; a request that finds the bucket full is refused. Where a
// token bucket lets an idle caller's burst through at once, a leaky bucket spaces the same burst
// out, which is what a caller needs to shape traffic to a backend that cannot absorb bursts.
// Reserve says when a request leaks through, so the caller can hold it until then.
//
// `capacity` counts the request leaking now, so capacity 1 is a pure meter: one request per 1/rate
// and never a queue; capacity C admits C at once from empty, then one per 1/rate.
//
// Thread rules: thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

#include "client/event_interval.h"
#include "client/rate_limiter.h"
#include "common/clock.h"
#include "common/result.h"

namespace pharos::client {

class LeakyBucket : public RateLimiter {
 public:
  // rate_per_second > 0, capacity ≥ 1. The rate is clamped into [EventInterval::kMinRate,
  // kMaxRate]: NaN, zero or negative drains about never; a negative capacity is 0.
  LeakyBucket(double rate_per_second, int64_t capacity,
              const Clock* clock = SystemClock::Instance());

  // Admits n requests if all of them fit in the bucket.
  bool AllowN(int64_t n) override;

  // Admits n requests and returns how long from now until the last of them leaks through;
  // RESOURCE_EXHAUSTED, admitting none, when they do not fit.
  Result<std::chrono::nanoseconds> Reserve(int64_t n = 1);

  // Water in the bucket now, in requests: each admitted request adds one and the bucket drains
  // one per 1/rate, so it is fractional while a request is leaking out. A request fits while the
  // level stays at or under capacity.
  double Level() const;

 private:
  using Ticks = EventInterval::Ticks;

  // Admits n if they fit: when the last leaves, or nothing.
  std::optional<Ticks> AdmitLocked(Ticks now, int64_t n);
  double Level(Ticks now) const;

  const int64_t capacity_;
  // Kept in sub-nanosecond ticks: at 3e8/s requests leave 3.33 ns apart, not 3.
  const EventInterval interval_;
  const Clock* const clock_;

  mutable std::mutex mu_;
  // When the next request admitted can leave: one interval after the last admitted one leaves.
  Ticks next_free_;
};

}  // namespace pharos::client
