// TokenBucket: `rate` tokens per second drip into a bucket that holds `burst`; a request takes
// tokens. An idle caller may spend a whole burst at once, then one request per 1/rate. Allow,
// Reserve (take now, act later, or cancel) and Wait follow Go's golang.org/x/time/rate.
//
// The state is the moment the bucket will be full again (GCRA's theoretical arrival time), not a
// floating token count, so arithmetic on the clock's nanoseconds stays exact.
//
// Thread rules: thread-safe. Wait sleeps through the injected Sleeper (tests pass one that
// advances a FakeClock), never holding the lock. A Reservation must not outlive its bucket.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

#include "client/rate_limiter.h"
#include "common/clock.h"
#include "common/result.h"
#include "common/status.h"

namespace pharos::client {

class TokenBucket : public RateLimiter {
 public:
  using Sleeper = std::function<void(std::chrono::nanoseconds)>;

  // Tokens taken now that must wait for their time; Cancel gives them back.
  class Reservation {
   public:
    Reservation(Reservation&& other) noexcept;
    Reservation& operator=(Reservation&& other) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;

    // When the tokens are the caller's to use.
    Clock::TimePoint time_to_act() const { return time_to_act_; }
    // How long from now until then; zero once it has passed.
    std::chrono::nanoseconds Delay() const;
    // Returns the tokens nobody reserved behind this one (as Go does: later reservations keep
    // the times they were promised). Does nothing once time_to_act has passed, or twice.
    void Cancel();

   private:
    friend class TokenBucket;
    Reservation(TokenBucket* bucket, int64_t tokens, Clock::TimePoint time_to_act)
        : bucket_(bucket), clock_(bucket->clock_), tokens_(tokens), time_to_act_(time_to_act) {}

    TokenBucket* bucket_;  // null once cancelled or moved from
    const Clock* clock_;
    int64_t tokens_;
    Clock::TimePoint time_to_act_;
  };

  // rate_per_second > 0, burst ≥ 1 (a burst of 0 admits nothing but AllowN(0)). The bucket starts
  // full. An empty sleeper means std::this_thread::sleep_for.
  TokenBucket(double rate_per_second, int64_t burst, const Clock* clock = SystemClock::Instance(),
              Sleeper sleeper = {});

  bool AllowN(int64_t n) override;

  // INVALID_ARGUMENT for n > burst (it could never be served) or n < 0.
  Result<Reservation> Reserve(int64_t n = 1);

  // Blocks until n tokens are the caller's. DEADLINE_EXCEEDED at once, taking nothing, when they
  // would come after the deadline; INVALID_ARGUMENT for n > burst or n < 0.
  Status Wait(int64_t n, Clock::TimePoint deadline);
  Status Wait(int64_t n = 1) { return Wait(n, Clock::TimePoint::max()); }

  // Tokens in the bucket now; negative while reservations wait for tokens still to come.
  double Tokens() const;
  double rate() const { return rate_; }
  int64_t burst() const { return burst_; }

 private:
  // Takes n tokens if they are available within max_wait; the moment they are, or nothing.
  std::optional<Clock::TimePoint> ReserveLocked(Clock::TimePoint now, int64_t n,
                                                std::chrono::nanoseconds max_wait);
  void Cancel(const Reservation& reservation);

  const double rate_;
  const int64_t burst_;
  const std::chrono::nanoseconds interval_;    // one token's worth of time
  const std::chrono::nanoseconds burst_time_;  // time to fill an empty bucket
  const Clock* const clock_;
  const Sleeper sleeper_;

  mutable std::mutex mu_;
  // The bucket holds burst − (full_at_ − now) × rate tokens; full when full_at_ ≤ now.
  Clock::TimePoint full_at_;
  // The latest time_to_act handed out, so Cancel knows which tokens were reserved after it.
  Clock::TimePoint last_event_;
};

}  // namespace pharos::client
