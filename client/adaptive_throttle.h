// AdaptiveThrottle: client-side throttling from the Google SRE book ("Handling Overload"). When a
// backend rejects much of what it is sent, the client stops sending some of it, so an overloaded
// backend does not spend its capacity refusing requests. Over a rolling window it counts
// `requests` (every attempt, including the ones it refused itself) and `accepts` (calls reported
// as successes), and refuses a new call with probability
//
//     max(0, (requests − K × accepts) / (requests + 1))
//
// With K = 2 it stays out of the way until the backend accepts fewer than half of the calls, and
// as accepts recover the probability falls back to 0 by itself. It is the other CallGuard policy
// beside CircuitBreaker: same TryAcquire / Success / Failure, no states, no probes.
//
// Thread rules: thread-safe. The random source is seedable so tests replay exactly.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>

#include "client/call_guard.h"
#include "client/rolling_window.h"
#include "common/clock.h"

namespace pharos::client {

struct AdaptiveThrottleOptions {
  std::chrono::milliseconds window{120'000};
  int buckets = 60;
  // Larger K throttles later: the client lets through up to K requests per accept.
  double k = 2.0;
  // Unset: seeded from std::random_device.
  std::optional<uint64_t> seed;
};

class AdaptiveThrottle : public CallGuard {
 public:
  struct Counters {
    uint64_t requests = 0;   // attempts, throttled ones included
    uint64_t accepts = 0;    // permits reported as successes
    uint64_t throttled = 0;  // refused here, never sent
  };

  explicit AdaptiveThrottle(AdaptiveThrottleOptions options = {},
                            const Clock* clock = SystemClock::Instance());

  // UNAVAILABLE "throttled locally" when refused.
  Result<Permit> TryAcquire() override;

  // The probability the next TryAcquire is refused.
  double RejectProbability() const;

  // Totals since construction.
  Counters counters() const;

 private:
  enum Field : size_t { kRequests, kAccepts };

  void Report(uint64_t id, Clock::TimePoint start, bool success) override;
  double RejectProbabilityLocked(Clock::TimePoint now) const;
  // The time to count a clock reading at (mu_ held): never before the latest time counted at.
  Clock::TimePoint CountAt(Clock::TimePoint now) const;

  const AdaptiveThrottleOptions options_;
  const Clock* const clock_;

  mutable std::mutex mu_;
  RollingWindow<2> window_;
  Clock::TimePoint latest_;  // the latest time counted at
  std::mt19937_64 rng_;
  Counters counters_;
};

}  // namespace pharos::client
