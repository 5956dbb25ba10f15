// FixedWindowLimiter: at most `limit` requests per window, windows aligned on the clock (like a
// counter keyed by now / window). The cheapest limiter, with a known weakness: a caller can spend
// one window's limit at its very end and the next window's at its very start, so up to 2 × limit
// pass in an instant. SlidingWindowLimiter smooths that out.
//
// Thread rules: thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

#include "client/rate_limiter.h"
#include "common/clock.h"

namespace pharos::client {

class FixedWindowLimiter : public RateLimiter {
 public:
  // window > 0.
  FixedWindowLimiter(int64_t limit, std::chrono::nanoseconds window,
                     const Clock* clock = SystemClock::Instance());

  bool AllowN(int64_t n) override;

  // Requests admitted in the current window.
  int64_t Count() const;

 private:
  int64_t WindowIndex(Clock::TimePoint now) const;

  const int64_t limit_;
  const std::chrono::nanoseconds window_;
  const Clock* const clock_;

  mutable std::mutex mu_;
  int64_t window_index_ = -1;
  int64_t count_ = 0;
};

}  // namespace pharos::client
