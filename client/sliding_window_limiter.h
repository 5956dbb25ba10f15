// SlidingWindowLimiter: at most about `limit` requests in any span of one window, by the weighted
// two-window approximation (as Cloudflare and nginx-style limiters do): the count of the current
// aligned window plus the previous window's count weighted by how much of it still overlaps the
// sliding window. It assumes the previous window's requests were spread evenly; in exchange it
// keeps two counters instead of a log of timestamps, and takes away the fixed window's 2 × limit
// burst at a boundary.
//
// Thread rules: thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

#include "client/rate_limiter.h"
#include "common/clock.h"

namespace pharos::client {

class SlidingWindowLimiter : public RateLimiter {
 public:
  // window > 0.
  SlidingWindowLimiter(int64_t limit, std::chrono::nanoseconds window,
                       const Clock* clock = SystemClock::Instance());

  bool AllowN(int64_t n) override;

  // The weighted count a request would be judged against now.
  double Estimate() const;

 private:
  struct Counts {
    int64_t previous = 0;
    int64_t current = 0;
  };
  struct Position {
    int64_t index = 0;                   // of the aligned window
    std::chrono::nanoseconds elapsed{};  // since that window began
  };
  // Where `now` falls (mu_ held), never before the current window.
  Position PositionOf(Clock::TimePoint now) const;
  // The counters as they stand in window `index` (mu_ held).
  Counts CountsAt(int64_t index) const;

  const int64_t limit_;
  const std::chrono::nanoseconds window_;
  const Clock* const clock_;

  mutable std::mutex mu_;
  int64_t window_index_ = 0;
  int64_t current_ = 0;
  int64_t previous_ = 0;
};

}  // namespace pharos::client
