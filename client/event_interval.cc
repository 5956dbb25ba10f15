#include "client/event_interval.h"

#include <cmath>
#include <limits>

namespace pharos::client {

namespace {

constexpr EventInterval::Ticks kTicksPerNanosecond = EventInterval::Ticks{1}
                                                     << EventInterval::kTickBits;
constexpr int64_t kNanosecondsPerSecond = 1'000'000'000;

// time / 2^32 rounded towards +infinity, within the clock's range.
int64_t CeilNanoseconds(EventInterval::Ticks time) {
  // >> on a signed value floors (C++20), so a remainder means one more to round up.
  EventInterval::Ticks ns = time >> EventInterval::kTickBits;
  if ((ns << EventInterval::kTickBits) != time) ++ns;
  if (ns > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (ns < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(ns);
}

}  // namespace

double EventInterval::ClampRate(double rate_per_second) {
  // Written so that NaN, which fails every comparison, lands on the minimum.
  if (!(rate_per_second >= kMinRate)) return kMinRate;
  if (rate_per_second > kMaxRate) return kMaxRate;
  return rate_per_second;
}

EventInterval::EventInterval(double rate_per_second) : rate_(ClampRate(rate_per_second)) {
  // Long double divides a second's ticks (an integer below 2^63) by the rate exactly enough that
  // a rate dividing it evenly gives the exact quotient, which ceil leaves alone. Clamping the
  // rate bounds the result to [4.3e6, 4.3e27] ticks, well inside 128 bits.
  const long double second = static_cast<long double>(kNanosecondsPerSecond) *
                             static_cast<long double>(kTicksPerNanosecond);
  ticks_ = static_cast<Ticks>(std::ceil(second / static_cast<long double>(rate_)));
  if (ticks_ < 1) ticks_ = 1;
}

EventInterval::Ticks EventInterval::Of(int64_t n) const {
  if (n <= 0) return 0;
  if (n > kMaxSpan / ticks_) return kMaxSpan;
  return ticks_ * n;
}

double EventInterval::EventsIn(Ticks span) const {
  return static_cast<double>(span) / static_cast<double>(ticks_);
}

EventInterval::Ticks EventInterval::ToTicks(Clock::TimePoint time) {
  return ToTicks(time.time_since_epoch());
}

EventInterval::Ticks EventInterval::ToTicks(std::chrono::nanoseconds duration) {
  return Ticks{duration.count()} << kTickBits;
}

Clock::TimePoint EventInterval::ToTimePoint(Ticks time) {
  return Clock::TimePoint(std::chrono::nanoseconds(CeilNanoseconds(time)));
}

std::chrono::nanoseconds EventInterval::ToNanoseconds(Ticks duration) {
  return std::chrono::nanoseconds(CeilNanoseconds(duration));
}

}  // namespace pharos::client
