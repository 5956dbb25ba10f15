#include "client/fixed_window_limiter.h"

#include <algorithm>

namespace pharos::client {

FixedWindowLimiter::FixedWindowLimiter(int64_t limit, std::chrono::nanoseconds window,
                                       const Clock* clock)
    : limit_(limit), window_(std::max(window, std::chrono::nanoseconds(1))), clock_(clock) {}

bool FixedWindowLimiter::AllowN(int64_t n) {
  if (n < 0) return false;
  const int64_t index = WindowIndex(clock_->Now());
  std::lock_guard lock(mu_);
  // The clock is read before the lock, so a caller that read it just before a boundary can get
  // here after others have opened the next window. Its request counts in the current window:
  // taking the window back would throw away the newer window's count and let a second limit in.
  if (index > window_index_) {
    window_index_ = index;
    count_ = 0;
  }
  if (n > limit_ - count_) return false;
  count_ += n;
  return true;
}

int64_t FixedWindowLimiter::Count() const {
  const int64_t index = WindowIndex(clock_->Now());
  std::lock_guard lock(mu_);
  return index <= window_index_ ? count_ : 0;
}

int64_t FixedWindowLimiter::WindowIndex(Clock::TimePoint now) const {
  return now.time_since_epoch() / window_;
}

}  // namespace pharos::client
