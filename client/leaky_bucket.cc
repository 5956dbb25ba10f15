#include "client/leaky_bucket.h"

#include <algorithm>
#include <string>

namespace pharos::client {

LeakyBucket::LeakyBucket(double rate_per_second, int64_t capacity, const Clock* clock)
    : capacity_(capacity),
      interval_(IntervalOf(rate_per_second)),
      clock_(clock),
      next_free_(clock->Now()) {}

bool LeakyBucket::AllowN(int64_t n) {
  if (n < 0) return false;
  const Clock::TimePoint now = clock_->Now();
  std::lock_guard lock(mu_);
  return AdmitLocked(now, n).has_value();
}

Result<std::chrono::nanoseconds> LeakyBucket::Reserve(int64_t n) {
  if (n < 0) return Status::InvalidArgument("reserving " + std::to_string(n) + " requests");
  const Clock::TimePoint now = clock_->Now();
  std::lock_guard lock(mu_);
  const auto leaves = AdmitLocked(now, n);
  if (!leaves) {
    return Status(StatusCode::kResourceExhausted, "leaky bucket full: level " +
                                                      std::to_string(Level(now)) + " of " +
                                                      std::to_string(capacity_));
  }
  return *leaves - now;
}

double LeakyBucket::Level() const {
  const Clock::TimePoint now = clock_->Now();
  std::lock_guard lock(mu_);
  return Level(now);
}

double LeakyBucket::Level(Clock::TimePoint now) const {
  if (next_free_ <= now) return 0;
  return static_cast<double>((next_free_ - now).count()) / static_cast<double>(interval_.count());
}

std::optional<Clock::TimePoint> LeakyBucket::AdmitLocked(Clock::TimePoint now, int64_t n) {
  if (n == 0) return now;
  if (n > capacity_) return std::nullopt;
  const Clock::TimePoint first = std::max(now, next_free_);
  const Clock::TimePoint last = first + interval_ * (n - 1);
  // They fit when the level after them, (last + interval − now) / interval, is at most capacity.
  if (last - now > interval_ * (capacity_ - 1)) return std::nullopt;
  next_free_ = last + interval_;
  return last;
}

}  // namespace pharos::client
