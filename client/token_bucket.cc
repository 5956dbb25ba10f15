#include "client/token_bucket.h"

#include <algorithm>
#include <thread>
#include <utility>

namespace pharos::client {

TokenBucket::Reservation::Reservation(Reservation&& other) noexcept
    : bucket_(std::exchange(other.bucket_, nullptr)),
      clock_(other.clock_),
      tokens_(other.tokens_),
      act_at_(other.act_at_),
      time_to_act_(other.time_to_act_) {}

TokenBucket::Reservation& TokenBucket::Reservation::operator=(Reservation&& other) noexcept {
  bucket_ = std::exchange(other.bucket_, nullptr);
  clock_ = other.clock_;
  tokens_ = other.tokens_;
  act_at_ = other.act_at_;
  time_to_act_ = other.time_to_act_;
  return *this;
}

std::chrono::nanoseconds TokenBucket::Reservation::Delay() const {
  return std::max(std::chrono::nanoseconds::zero(), time_to_act_ - clock_->Now());
}

void TokenBucket::Reservation::Cancel() {
  TokenBucket* bucket = std::exchange(bucket_, nullptr);
  if (bucket != nullptr) bucket->Cancel(*this);
}

TokenBucket::TokenBucket(double rate_per_second, int64_t burst, const Clock* clock, Sleeper sleeper)
    : burst_(std::max<int64_t>(burst, 0)),
      interval_(rate_per_second),
      burst_time_(interval_.Of(burst_)),
      clock_(clock),
      sleeper_(std::move(sleeper)),
      full_at_(EventInterval::ToTicks(clock->Now())),
      last_event_(full_at_) {}

bool TokenBucket::AllowN(int64_t n) {
  if (n < 0 || n > burst_) return false;
  const Ticks now = EventInterval::ToTicks(clock_->Now());
  std::lock_guard lock(mu_);
  return ReserveLocked(now, n, 0).has_value();
}

Result<TokenBucket::Reservation> TokenBucket::Reserve(int64_t n) {
  if (n < 0 || n > burst_) {
    return Status::InvalidArgument("reserving " + std::to_string(n) + " tokens from a bucket of " +
                                   std::to_string(burst_));
  }
  const Ticks now = EventInterval::ToTicks(clock_->Now());
  std::lock_guard lock(mu_);
  // Bounding the wait bounds the debt, so the bucket's times never overflow.
  const auto act_at = ReserveLocked(now, n, EventInterval::kMaxSpan);
  if (!act_at) {
    return Status(StatusCode::kResourceExhausted,
                  "rate limit: " + std::to_string(n) + " tokens come too far in the future");
  }
  return Reservation(this, n, *act_at);
}

Status TokenBucket::Wait(int64_t n, Clock::TimePoint deadline) {
  if (n < 0 || n > burst_) {
    return Status::InvalidArgument("waiting for " + std::to_string(n) +
                                   " tokens from a bucket of " + std::to_string(burst_));
  }
  const Clock::TimePoint now = clock_->Now();
  const Ticks now_ticks = EventInterval::ToTicks(now);
  std::optional<Ticks> act_at;
  {
    std::lock_guard lock(mu_);
    act_at = ReserveLocked(now_ticks, n, EventInterval::ToTicks(deadline) - now_ticks);
  }
  if (!act_at) {
    return Status(StatusCode::kDeadlineExceeded,
                  "rate limit: " + std::to_string(n) + " tokens come after the deadline");
  }
  const std::chrono::nanoseconds delay = EventInterval::ToNanoseconds(*act_at - now_ticks);
  if (delay > std::chrono::nanoseconds::zero()) {
    if (sleeper_) {
      sleeper_(delay);
    } else {
      std::this_thread::sleep_for(delay);
    }
  }
  return Status::Ok();
}

double TokenBucket::Tokens() const {
  const Ticks now = EventInterval::ToTicks(clock_->Now());
  std::lock_guard lock(mu_);
  return static_cast<double>(burst_) - interval_.EventsIn(std::max(full_at_, now) - now);
}

std::optional<TokenBucket::Ticks> TokenBucket::ReserveLocked(Ticks now, int64_t n, Ticks max_wait) {
  const Ticks full_at = std::max(full_at_, now) + interval_.Of(n);
  // The tokens are there once the bucket is no more than a full bucket's worth short of them.
  const Ticks act_at = std::max(now, full_at - burst_time_);
  if (act_at - now > max_wait) return std::nullopt;
  full_at_ = full_at;
  last_event_ = act_at;
  return act_at;
}

void TokenBucket::Cancel(const Reservation& reservation) {
  const Ticks now = EventInterval::ToTicks(clock_->Now());
  std::lock_guard lock(mu_);
  if (reservation.tokens_ == 0 || reservation.act_at_ < now) return;
  const Ticks reserved = interval_.Of(reservation.tokens_);
  // Tokens reserved after this one were promised their times; only what lies beyond them
  // comes back.
  const Ticks restore = reserved - (last_event_ - reservation.act_at_);
  if (restore <= 0) return;
  full_at_ = std::max(now, full_at_ - restore);
  if (reservation.act_at_ == last_event_) {
    const Ticks previous = reservation.act_at_ - reserved;
    if (previous >= now) last_event_ = previous;
  }
}

}  // namespace pharos::client
