#include "client/adaptive_throttle.h"

#include <algorithm>

namespace pharos::client {

AdaptiveThrottle::AdaptiveThrottle(AdaptiveThrottleOptions options, const Clock* clock)
    : options_(std::move(options)),
      clock_(clock),
      window_(options_.window, options_.buckets),
      rng_(options_.seed ? *options_.seed : std::random_device{}()) {}

Result<Permit> AdaptiveThrottle::TryAcquire() {
  const Clock::TimePoint read = clock_->Now();
  std::lock_guard lock(mu_);
  const Clock::TimePoint now = latest_ = CountAt(read);
  // The probability is taken before this attempt is counted: requests + 1 in the formula's
  // denominator already stands for it.
  const double p = RejectProbabilityLocked(now);
  window_.Add(now, kRequests);
  ++counters_.requests;
  if (p > 0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < p) {
    ++counters_.throttled;
    return Status::Unavailable("throttled locally");
  }
  return MakePermit(0, now);
}

void AdaptiveThrottle::Report(uint64_t /*id*/, Clock::TimePoint /*start*/, bool success) {
  if (!success) return;
  const Clock::TimePoint read = clock_->Now();
  std::lock_guard lock(mu_);
  latest_ = CountAt(read);
  window_.Add(latest_, kAccepts);
  ++counters_.accepts;
}

double AdaptiveThrottle::RejectProbability() const {
  const Clock::TimePoint read = clock_->Now();
  std::lock_guard lock(mu_);
  return RejectProbabilityLocked(CountAt(read));
}

double AdaptiveThrottle::RejectProbabilityLocked(Clock::TimePoint now) const {
  const auto counts = window_.Sum(now);
  const auto requests = static_cast<double>(counts[kRequests]);
  const auto accepts = static_cast<double>(counts[kAccepts]);
  return std::max(0.0, (requests - options_.k * accepts) / (requests + 1));
}

Clock::TimePoint AdaptiveThrottle::CountAt(Clock::TimePoint now) const {
  // The clock is read before the lock, so a caller can arrive with a time older than one another
  // caller already counted at. Counting it there would take the window back: with one bucket the
  // slot is reused for the older slice and the newer counts are lost.
  return std::max(now, latest_);
}

AdaptiveThrottle::Counters AdaptiveThrottle::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

}  // namespace pharos::client
