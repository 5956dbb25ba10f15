#include "client/token_bucket.h"

#include <algorithm>
#include <thread>
#include <utility>

namespace pharos::client {

TokenBucket::Reservation::Reservation(Reservation&& other) noexcept
    : bucket_(std::exchange(other.bucket_, nullptr)),
      clock_(other.clock_),
      tokens_(other.tokens_),
      time_to_act_(other.time_to_act_) {}

TokenBucket::Reservation& TokenBucket::Reservation::operator=(Reservation&& other) noexcept {
  bucket_ = std::exchange(other.bucket_, nullptr);
  clock_ = other.clock_;
  tokens_ = other.tokens_;
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
    : rate_(rate_per_second),
      burst_(burst),
      interval_(IntervalOf(rate_per_second)),
      burst_time_(interval_ * burst),
      clock_(clock),
      sleeper_(std::move(sleeper)),
      full_at_(clock->Now()),
      last_event_(full_at_) {}

bool TokenBucket::AllowN(int64_t n) {
  if (n < 0 || n > burst_) return false;
  const Clock::TimePoint now = clock_->Now();
  std::lock_guard lock(mu_);
  return ReserveLocked(now, n, std::chrono::nanoseconds::zero()).has_value();
}

Result<TokenBucket::Reservation> TokenBucket::Reserve(int64_t n) {
  if (n < 0 || n > burst_) {
    return Status::InvalidArgument("reserving " + std::to_string(n) + " tokens from a bucket of " +
                                   std::to_string(burst_));
  }
  const Clock::TimePoint now = clock_->Now();
  std::lock_guard lock(mu_);
  const auto time_to_act = ReserveLocked(now, n, std::chrono::nanoseconds::max());
  return Reservation(this, n, *time_to_act);
}

Status TokenBucket::Wait(int64_t n, Clock::TimePoint deadline) {
  if (n < 0 || n > burst_) {
    return Status::InvalidArgument("waiting for " + std::to_string(n) +
                                   " tokens from a bucket of " + std::to_string(burst_));
  }
  const Clock::TimePoint now = clock_->Now();
  std::optional<Clock::TimePoint> time_to_act;
  {
    std::lock_guard lock(mu_);
    time_to_act = ReserveLocked(now, n, deadline - now);
  }
  if (!time_to_act) {
    return Status(StatusCode::kDeadlineExceeded,
                  "rate limit: " + std::to_string(n) + " tokens come after the deadline");
  }
  const std::chrono::nanoseconds delay = *time_to_act - now;
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
  const Clock::TimePoint now = clock_->Now();
  std::lock_guard lock(mu_);
  const std::chrono::nanoseconds missing = std::max(full_at_, now) - now;
  return static_cast<double>(burst_) -
         static_cast<double>(missing.count()) / static_cast<double>(interval_.count());
}

std::optional<Clock::TimePoint> TokenBucket::ReserveLocked(Clock::TimePoint now, int64_t n,
                                                           std::chrono::nanoseconds max_wait) {
  const Clock::TimePoint full_at = std::max(full_at_, now) + interval_ * n;
  // The tokens are there once the bucket is no more than a full bucket's worth short of them.
  const Clock::TimePoint time_to_act = std::max(now, full_at - burst_time_);
  if (time_to_act - now > max_wait) return std::nullopt;
  full_at_ = full_at;
  last_event_ = time_to_act;
  return time_to_act;
}

void TokenBucket::Cancel(const Reservation& reservation) {
  const Clock::TimePoint now = clock_->Now();
  std::lock_guard lock(mu_);
  if (reservation.tokens_ == 0 || reservation.time_to_act_ < now) return;
  const std::chrono::nanoseconds reserved = interval_ * reservation.tokens_;
  // Tokens reserved after this one were promised their times; only what lies beyond them
  // comes back.
  const std::chrono::nanoseconds restore = reserved - (last_event_ - reservation.time_to_act_);
  if (restore <= std::chrono::nanoseconds::zero()) return;
  full_at_ = std::max(now, full_at_ - restore);
  if (reservation.time_to_act_ == last_event_) {
    const Clock::TimePoint previous = reservation.time_to_act_ - reserved;
    if (previous >= now) last_event_ = previous;
  }
}

}  // namespace pharos::client
