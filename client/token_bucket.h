// TokenBucket: `rate` tokens per second drip into a bucket that holds `burst`; a request takes
// tokens. An idle caller may spend a whole burst at once, then one request per 1/rate. Allow,
// Reserve (take now, act later, or cancel) and Wait follow Go's golang.org/x/time/rate.
//
// The state is the moment the bucket will be full again (GCRA's theoretical arrival time), not a
// floating token count, kept in EventInterval's sub-nanosecond ticks so that a token's worth of
// time is exact enough at any rate (3e8/s is 3.33 ns a token, not 3).
//
// Thread rules: thread-safe. Wait sleeps through the injected Sleeper (tests pass one that
// advances a FakeClock), never holding the lock. A Reservation must not outlive its bucket.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

#include "client/event_interval.h"
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
    Reservation(TokenBucket* bucket, int64_t tokens, EventInterval::Ticks act_at)
        : bucket_(bucket),
          clock_(bucket->clock_),
          tokens_(tokens),
          act_at_(act_at),
          time_to_act_(EventInterval::ToTimePoint(act_at)) {}

    TokenBucket* bucket_;  // null once cancelled or moved from
    const Clock* clock_;
    int64_t tokens_;
    EventInterval::Ticks act_at_;  // exact, for Cancel
    Clock::TimePoint time_to_act_;
  };

  // rate_per_second > 0, burst ≥ 1 (a burst of 0 admits nothing but AllowN(0)). The rate is
  // clamped into [EventInterval::kMinRate, kMaxRate]: NaN, zero or negative refills about never;
  // a negative burst is 0. The bucket starts full. An empty sleeper means
  // std::this_thread::sleep_for.
  TokenBucket(double rate_per_second, int64_t burst, const Clock* clock = SystemClock::Instance(),
              Sleeper sleeper = {});

  bool AllowN(int64_t n) override;

  // INVALID_ARGUMENT for n > burst (it could never be served) or n < 0; RESOURCE_EXHAUSTED,
  // taking nothing, when the tokens would come more than EventInterval::kMaxSpan from now (only
  // reservations piled up at a rate near kMinRate get there).
  Result<Reservation> Reserve(int64_t n = 1);

  // Blocks until n tokens are the caller's. DEADLINE_EXCEEDED at once, taking nothing, when they
  // would come after the deadline; INVALID_ARGUMENT for n > burst or n < 0.
  Status Wait(int64_t n, Clock::TimePoint deadline);
  Status Wait(int64_t n = 1) { return Wait(n, Clock::TimePoint::max()); }

  // Tokens in the bucket now; negative while reservations wait for tokens still to come.
  double Tokens() const;
  // The rate after clamping.
  double rate() const { return interval_.rate(); }
  int64_t burst() const { return burst_; }

 private:
  using Ticks = EventInterval::Ticks;

  // Takes n tokens if they are available within max_wait; the moment they are, or nothing.
  std::optional<Ticks> ReserveLocked(Ticks now, int64_t n, Ticks max_wait);
  void Cancel(const Reservation& reservation);

  const int64_t burst_;
  const EventInterval interval_;  // one token's worth of time
  const Ticks burst_time_;        // time to fill an empty bucket
  const Clock* const clock_;
  const Sleeper sleeper_;

  mutable std::mutex mu_;
  // The bucket holds burst − (full_at_ − now) × rate tokens; full when full_at_ ≤ now.
  Ticks full_at_;
  // The latest time to act handed out, so Cancel knows which tokens were reserved after it.
  Ticks last_event_;
};

}  // namespace pharos::client
