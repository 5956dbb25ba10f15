#include "client/circuit_breaker.h"

#include <algorithm>
#include <limits>

namespace pharos::client {

std::string_view CircuitStateName(CircuitState state) {
  switch (state) {
    case CircuitState::kClosed:
      return "closed";
    case CircuitState::kOpen:
      return "open";
    case CircuitState::kHalfOpen:
      return "half-open";
  }
  return "unknown";
}

CircuitBreaker::CircuitBreaker(CircuitBreakerOptions options, const Clock* clock)
    : options_(std::move(options)),
      clock_(clock),
      window_(options_.rolling_window, options_.rolling_window_buckets) {}

Result<Permit> CircuitBreaker::TryAcquire() {
  const Clock::TimePoint now = clock_->Now();
  Transitions transitions;
  Result<Permit> result = Status::Unavailable("circuit open");
  {
    std::lock_guard lock(mu_);
    if (state_ == CircuitState::kHalfOpen) {
      if (auto expired = ProbeExpiry(); expired && *expired < now) {
        MoveTo(CircuitState::kOpen, *expired, &transitions);
      }
    }
    if (state_ == CircuitState::kOpen && now - opened_at_ >= options_.sleep_window) {
      MoveTo(CircuitState::kHalfOpen, now, &transitions);
    }
    const int probes = std::max(1, options_.half_open_probes);
    if (state_ == CircuitState::kOpen) {
      ++counters_.short_circuits;
    } else if (state_ == CircuitState::kHalfOpen && probes_admitted_ >= probes) {
      ++counters_.short_circuits;
      result = Status::Unavailable("circuit half-open: probes in flight");
    } else if (in_flight_ >= ConcurrencyLimit(state_)) {
      ++counters_.rejections;
      // Only a closed circuit keeps a window.
      if (state_ == CircuitState::kClosed) Record(now, /*error=*/true, &transitions);
      result = Status::Unavailable("too many concurrent requests");
    } else {
      const uint64_t id = next_id_++;
      ++in_flight_;
      if (state_ == CircuitState::kHalfOpen) {
        ++probes_admitted_;
        probes_out_.emplace(id, now);
      }
      result = MakePermit(id, now);
    }
  }
  Notify(transitions);
  return result;
}

void CircuitBreaker::Report(uint64_t id, Clock::TimePoint start, bool success) {
  const Clock::TimePoint now = clock_->Now();
  Transitions transitions;
  {
    std::lock_guard lock(mu_);
    --in_flight_;
    // The call cannot be interrupted, so a slow call is only known to be one when it reports;
    // it is a timeout whatever it returned, as in Hystrix, where the caller has long had its
    // fallback by then.
    const bool timed_out = now - start > options_.timeout;
    if (timed_out) {
      ++counters_.timeouts;
    } else if (success) {
      ++counters_.successes;
    } else {
      ++counters_.failures;
    }
    const bool ok = success && !timed_out;
    if (id >= epoch_first_id_) {
      if (state_ == CircuitState::kClosed) {
        Record(now, !ok, &transitions);
      } else if (state_ == CircuitState::kHalfOpen) {
        probes_out_.erase(id);
        if (!ok) {
          MoveTo(CircuitState::kOpen, now, &transitions);
        } else if (++probes_succeeded_ >= std::max(1, options_.half_open_probes)) {
          MoveTo(CircuitState::kClosed, now, &transitions);
        }
      }
      // An open circuit issues no permits, so no current permit can report while open.
    }
  }
  Notify(transitions);
}

void CircuitBreaker::Record(Clock::TimePoint now, bool error, Transitions* transitions) {
  // The clock is read before the lock, so a caller can arrive with a time older than one another
  // caller already counted at. Counting it there would take the window back: with one bucket the
  // slot is reused for the older slice and the newer counts are lost.
  window_latest_ = std::max(window_latest_, now);
  window_.Add(window_latest_, error ? kError : kSuccess);
  const auto counts = window_.Sum(window_latest_);
  const uint64_t requests = counts[kSuccess] + counts[kError];
  if (requests < static_cast<uint64_t>(std::max(0, options_.request_volume_threshold))) return;
  // Exact, where Hystrix truncates the percentage to an integer first.
  if (static_cast<double>(counts[kError]) * 100.0 <
      options_.error_threshold_percent * static_cast<double>(requests)) {
    return;
  }
  MoveTo(CircuitState::kOpen, now, transitions);
}

void CircuitBreaker::MoveTo(CircuitState to, Clock::TimePoint now, Transitions* transitions) {
  transitions->emplace_back(state_, to);
  state_ = to;
  epoch_first_id_ = next_id_;
  probes_admitted_ = 0;
  probes_succeeded_ = 0;
  probes_out_.clear();
  if (to == CircuitState::kOpen) opened_at_ = now;
  // A closed circuit starts over: the errors that opened it must not open it again at once.
  if (to == CircuitState::kClosed) window_.Reset();
}

bool CircuitBreaker::ProbeHasASlot() const {
  return in_flight_ < ConcurrencyLimit(CircuitState::kHalfOpen);
}

int CircuitBreaker::ConcurrencyLimit(CircuitState state) const {
  // While half-open the probes come on top: calls still out from before the circuit opened (hung
  // on the sick backend, with no deadline of their own) would otherwise fill every slot, refuse
  // every probe, and hold the circuit half-open for as long as they hang. Still a bound: a probe
  // that hangs in turn keeps its slot, and the next half-open's probe finds none.
  if (state == CircuitState::kHalfOpen) {
    const int probes = std::max(1, options_.half_open_probes);
    if (options_.max_concurrent_requests > std::numeric_limits<int>::max() - probes) {
      return std::numeric_limits<int>::max();  // a limit set to INT_MAX says "none"
    }
    return options_.max_concurrent_requests + probes;
  }
  return options_.max_concurrent_requests;
}

std::optional<Clock::TimePoint> CircuitBreaker::ProbeExpiry() const {
  std::optional<Clock::TimePoint> earliest;
  for (const auto& [id, start] : probes_out_) {
    if (!earliest || start < *earliest) earliest = start;
  }
  if (!earliest) return std::nullopt;
  return *earliest + options_.timeout;
}

void CircuitBreaker::Notify(const Transitions& transitions) const {
  if (!options_.on_state_change) return;
  for (const auto& [from, to] : transitions) options_.on_state_change(from, to);
}

bool CircuitBreaker::Available() const {
  const Clock::TimePoint now = clock_->Now();
  std::lock_guard lock(mu_);
  switch (state_) {
    case CircuitState::kClosed:
      return true;
    case CircuitState::kOpen:
      return now - opened_at_ >= options_.sleep_window && ProbeHasASlot();
    case CircuitState::kHalfOpen:
      // Mirrors TryAcquire: a hung probe reopened the circuit when it timed out.
      if (auto expired = ProbeExpiry(); expired && *expired < now) {
        return now - *expired >= options_.sleep_window && ProbeHasASlot();
      }
      return probes_admitted_ < std::max(1, options_.half_open_probes) && ProbeHasASlot();
  }
  return false;
}

CircuitState CircuitBreaker::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

CircuitBreaker::Counters CircuitBreaker::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

CircuitBreaker::Health CircuitBreaker::health() const {
  const Clock::TimePoint now = clock_->Now();
  std::lock_guard lock(mu_);
  const auto counts = window_.Sum(std::max(now, window_latest_));
  return {counts[kSuccess] + counts[kError], counts[kError]};
}

}  // namespace pharos::client
