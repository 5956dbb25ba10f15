#include "client/sliding_window_limiter.h"

#include <algorithm>

namespace pharos::client {

SlidingWindowLimiter::SlidingWindowLimiter(int64_t limit, std::chrono::nanoseconds window,
                                           const Clock* clock)
    : limit_(limit), window_(std::max(window, std::chrono::nanoseconds(1))), clock_(clock) {}

bool SlidingWindowLimiter::AllowN(int64_t n) {
  if (n < 0) return false;
  const Clock::TimePoint now = clock_->Now();
  std::lock_guard lock(mu_);
  const auto [index, since_start] = PositionOf(now);
  const __int128 elapsed = since_start.count();
  const __int128 width = window_.count();
  const Counts counts = CountsAt(index);
  // previous × (width − elapsed) / width + current + n ≤ limit, multiplied out so the decision is
  // exact; 128 bits because counts × nanoseconds overflow 64 bits for long windows.
  if (counts.previous * (width - elapsed) + (static_cast<__int128>(counts.current) + n) * width >
      limit_ * width) {
    return false;
  }
  window_index_ = index;
  previous_ = counts.previous;
  current_ = counts.current + n;
  return true;
}

double SlidingWindowLimiter::Estimate() const {
  const Clock::TimePoint now = clock_->Now();
  std::lock_guard lock(mu_);
  const auto [index, elapsed] = PositionOf(now);
  const double weight =
      1.0 - static_cast<double>(elapsed.count()) / static_cast<double>(window_.count());
  const Counts counts = CountsAt(index);
  return static_cast<double>(counts.previous) * weight + static_cast<double>(counts.current);
}

SlidingWindowLimiter::Position SlidingWindowLimiter::PositionOf(Clock::TimePoint now) const {
  const int64_t index = now.time_since_epoch() / window_;
  // The clock is read before the lock, so a caller that read it just before a boundary can get
  // here after others have moved on to the next window. Taking it at that window's start, where
  // the previous window still weighs in full, keeps the newer counts (judging it in the older
  // window would drop them) and is the strictest reading of the current window.
  if (index < window_index_) return {window_index_, std::chrono::nanoseconds::zero()};
  return {index, now.time_since_epoch() % window_};
}

SlidingWindowLimiter::Counts SlidingWindowLimiter::CountsAt(int64_t index) const {
  if (index == window_index_) return {previous_, current_};
  // The window just past becomes the previous one; anything older has slid out entirely.
  if (index == window_index_ + 1) return {current_, 0};
  return {};
}

}  // namespace pharos::client
