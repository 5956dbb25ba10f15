// CircuitBreaker: stops calling a backend that keeps failing, so a sick instance gets room to
// recover and callers fail fast instead of queueing behind it (DESIGN.md §7). Hystrix semantics:
//
//   closed ──(in the rolling window: requests ≥ volume threshold AND error % ≥ threshold)──► open
//   open ──(sleep window passed, at the next TryAcquire)──► half-open: admits `half_open_probes`
//   half-open ──(any probe fails or times out)──► open, sleep window restarts
//   half-open ──(every probe succeeds)──► closed, window emptied
//
// Errors in the window are failures, timeouts (a call reported after more than `timeout`) and
// concurrency rejections (a call refused because `max_concurrent_requests` were in flight), as
// Hystrix counts them. While half-open the probes may exceed that limit, by as many as there
// are probes: calls hung from before cannot starve them. Closed again, the circuit counts those
// calls once more, and if they still fill every slot its rejections may open it again. Calls
// refused because the circuit is open or its probes are all out are "short-circuited": counted for
// metrics, never as errors. A result reported for a permit issued before the last state change (a
// slow call from the closed period, a probe of an earlier half-open) updates the counters but not
// the state: it describes a backend that is gone.
//
// Transitions happen inside TryAcquire and reports, never on a timer: state() says open until
// someone asks after the sleep window. The clock is only read, so a FakeClock drives it in tests.
//
// Thread rules: every method is thread-safe. on_state_change runs on the thread that caused the
// change, after the breaker's lock is released (it may call back into the breaker); callbacks of
// changes racing on two threads may arrive out of order, so state() is the truth.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "client/call_guard.h"
#include "client/rolling_window.h"
#include "common/clock.h"

namespace pharos::client {

enum class CircuitState { kClosed, kOpen, kHalfOpen };
std::string_view CircuitStateName(CircuitState state);

// Defaults are Hystrix's.
struct CircuitBreakerOptions {
  std::chrono::milliseconds timeout{1000};
  int max_concurrent_requests = 10;
  int request_volume_threshold = 20;
  double error_threshold_percent = 50;
  std::chrono::milliseconds sleep_window{5000};
  std::chrono::milliseconds rolling_window{10'000};
  int rolling_window_buckets = 10;
  int half_open_probes = 1;
  std::function<void(CircuitState from, CircuitState to)> on_state_change;
};

class CircuitBreaker : public CallGuard {
 public:
  // Totals since construction, for metrics. A permit's outcome is counted when it is reported.
  struct Counters {
    uint64_t successes = 0;
    uint64_t failures = 0;
    uint64_t timeouts = 0;
    uint64_t rejections = 0;      // over the concurrency limit
    uint64_t short_circuits = 0;  // refused while open or while the half-open probes are out
  };
  // What the trip decision sees: the rolling window now (frozen while not closed, emptied on
  // closing).
  struct Health {
    uint64_t requests = 0;
    uint64_t errors = 0;
  };

  explicit CircuitBreaker(CircuitBreakerOptions options = {},
                          const Clock* clock = SystemClock::Instance());

  // UNAVAILABLE "circuit open", "circuit half-open: probes in flight" or "too many concurrent
  // requests" when refused.
  Result<Permit> TryAcquire() override;

  // Whether TryAcquire would let a call through the circuit now: false while open inside the
  // sleep window and while half-open with every probe out. It takes no probe, so a balancer may
  // ask for every instance on every pick. It ignores the concurrency limit while closed, which
  // is momentary, but not for a probe, since a probe that hung holds its slot.
  bool Available() const;

  CircuitState state() const;
  Counters counters() const;
  Health health() const;
  const CircuitBreakerOptions& options() const { return options_; }

 private:
  using Transitions = std::vector<std::pair<CircuitState, CircuitState>>;
  enum Field : size_t { kSuccess, kError };

  void Report(uint64_t id, Clock::TimePoint start, bool success) override;

  // All below run with mu_ held.
  void Record(Clock::TimePoint now, bool error, Transitions* transitions);
  void MoveTo(CircuitState to, Clock::TimePoint now, Transitions* transitions);
  // How many calls may be in flight in that state.
  int ConcurrencyLimit(CircuitState state) const;
  // Whether a half-open probe would find a slot: a probe that hung holds its own.
  bool ProbeHasASlot() const;
  // When a half-open probe has outlived the timeout, the moment it timed out: a hung probe must
  // not hold the circuit half-open forever. Its late report is stale by then.
  std::optional<Clock::TimePoint> ProbeExpiry() const;
  void Notify(const Transitions& transitions) const;

  const CircuitBreakerOptions options_;
  const Clock* const clock_;

  mutable std::mutex mu_;
  CircuitState state_ = CircuitState::kClosed;
  RollingWindow<2> window_;
  Clock::TimePoint window_latest_;  // the latest time the window counted at
  uint64_t next_id_ = 1;
  // Permits with a smaller id were issued before the last state change.
  uint64_t epoch_first_id_ = 1;
  int in_flight_ = 0;
  Clock::TimePoint opened_at_;
  int probes_admitted_ = 0;
  int probes_succeeded_ = 0;
  std::map<uint64_t, Clock::TimePoint> probes_out_;  // id → start
  Counters counters_;
};

}  // namespace pharos::client
