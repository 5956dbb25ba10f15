#include "client/leaky_bucket.h"

#include <algorithm>
#include <string>

namespace pharos::client {

LeakyBucket::LeakyBucket(double rate_per_second, int64_t capacity, const Clock* clock)
    : capacity_(std::max<int64_t>(capacity, 0)),
      interval_(rate_per_second),
      clock_(clock),
      next_free_(EventInterval::ToTicks(clock->Now())) {}

bool LeakyBucket::AllowN(int64_t n) {
  if (n < 0) return false;
  const Ticks now = EventInterval::ToTicks(clock_->Now());
  std::lock_guard lock(mu_);
  return AdmitLocked(now, n).has_value();
}

Result<std::chrono::nanoseconds> LeakyBucket::Reserve(int64_t n) {
  if (n < 0) return Status::InvalidArgument("reserving " + std::to_string(n) + " requests");
  const Ticks now = EventInterval::ToTicks(clock_->Now());
  std::lock_guard lock(mu_);
  const auto leaves = AdmitLocked(now, n);
  if (!leaves) {
    return Status(StatusCode::kResourceExhausted, "leaky bucket full: level " +
                                                      std::to_string(Level(now)) + " of " +
                                                      std::to_string(capacity_));
  }
  return EventInterval::ToNanoseconds(*leaves - now);
}

double LeakyBucket::Level() const {
  const Ticks now = EventInterval::ToTicks(clock_->Now());
  std::lock_guard lock(mu_);
  return Level(now);
}

double LeakyBucket::Level(Ticks now) const {
  if (next_free_ <= now) return 0;
  return interval_.EventsIn(next_free_ - now);
}

std::optional<LeakyBucket::Ticks> LeakyBucket::AdmitLocked(Ticks now, int64_t n) {
  if (n == 0) return now;
  if (n > capacity_) return std::nullopt;
  const Ticks first = std::max(now, next_free_);
  const Ticks last = first + interval_.Of(n - 1);
  // They fit when the level after them, (last + interval − now) / interval, is at most capacity.
  if (last - now > interval_.Of(capacity_ - 1)) return std::nullopt;
  next_free_ = last + interval_.ticks();
  return last;
}

}  // namespace pharos::client
