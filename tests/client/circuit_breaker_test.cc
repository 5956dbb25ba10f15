#include "client/circuit_breaker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace pharos::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

class CircuitBreakerTest : public ::testing::Test {
 protected:
  // Reports n calls of the given outcome, each acquired and reported at the current time.
  static void Calls(CircuitBreaker& breaker, int n, bool success) {
    for (int i = 0; i < n; ++i) {
      Result<Permit> permit = breaker.TryAcquire();
      ASSERT_TRUE(permit.ok()) << "call " << i << ": " << permit.status().ToString();
      success ? permit->Success() : permit->Failure();
    }
  }
  static void Succeed(CircuitBreaker& breaker, int n) { Calls(breaker, n, true); }
  static void Fail(CircuitBreaker& breaker, int n) { Calls(breaker, n, false); }

  // Trips a default-sized breaker (20 failures).
  static void Trip(CircuitBreaker& breaker) {
    Fail(breaker, breaker.options().request_volume_threshold);
    ASSERT_EQ(breaker.state(), CircuitState::kOpen);
  }

  FakeClock clock_;
};

TEST_F(CircuitBreakerTest, DefaultsAreHystrixs) {
  CircuitBreakerOptions o;
  EXPECT_EQ(o.timeout, milliseconds(1000));
  EXPECT_EQ(o.max_concurrent_requests, 10);
  EXPECT_EQ(o.request_volume_threshold, 20);
  EXPECT_EQ(o.error_threshold_percent, 50);
  EXPECT_EQ(o.sleep_window, milliseconds(5000));
  EXPECT_EQ(o.rolling_window, milliseconds(10'000));
  EXPECT_EQ(o.rolling_window_buckets, 10);
  EXPECT_EQ(o.half_open_probes, 1);
}

TEST_F(CircuitBreakerTest, StaysClosedBelowTheVolumeThresholdEvenAtAllErrors) {
  CircuitBreaker breaker({}, &clock_);
  Fail(breaker, 19);
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
  EXPECT_EQ(breaker.health().requests, 19u);
  EXPECT_EQ(breaker.health().errors, 19u);
  Fail(breaker, 1);
  EXPECT_EQ(breaker.state(), CircuitState::kOpen);
}

TEST_F(CircuitBreakerTest, OpensAtExactlyTheErrorThreshold) {
  // 10 failures in 20 requests is 50%, whichever order they come in.
  CircuitBreaker failures_first({}, &clock_);
  Fail(failures_first, 10);
  Succeed(failures_first, 9);
  EXPECT_EQ(failures_first.state(), CircuitState::kClosed);
  Succeed(failures_first, 1);
  EXPECT_EQ(failures_first.state(), CircuitState::kOpen);

  CircuitBreaker failures_last({}, &clock_);
  Succeed(failures_last, 10);
  Fail(failures_last, 9);
  EXPECT_EQ(failures_last.state(), CircuitState::kClosed);
  Fail(failures_last, 1);
  EXPECT_EQ(failures_last.state(), CircuitState::kOpen);
}

TEST_F(CircuitBreakerTest, StaysClosedJustBelowTheErrorThreshold) {
  CircuitBreaker breaker({}, &clock_);
  Fail(breaker, 9);
  Succeed(breaker, 11);
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
  EXPECT_EQ(breaker.health().requests, 20u);
  EXPECT_EQ(breaker.health().errors, 9u);
  // One more failure makes 10 of 21 (47.6%): still closed; the next makes 11 of 22 (50%).
  Fail(breaker, 1);
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
  Fail(breaker, 1);
  EXPECT_EQ(breaker.state(), CircuitState::kOpen);
}

TEST_F(CircuitBreakerTest, OldBucketsRollOutOfTheWindow) {
  // Failures 9.999 s old still count: the 20th request opens the circuit.
  CircuitBreaker recent({}, &clock_);
  Fail(recent, 19);
  clock_.Advance(milliseconds(9'999));
  Fail(recent, 1);
  EXPECT_EQ(recent.state(), CircuitState::kOpen);

  // Failures a whole window old have left it: the 20th request is the only one.
  CircuitBreaker old({}, &clock_);
  Fail(old, 19);
  clock_.Advance(milliseconds(10'000));
  EXPECT_EQ(old.health().requests, 0u);
  Fail(old, 1);
  EXPECT_EQ(old.state(), CircuitState::kClosed);
  EXPECT_EQ(old.health().requests, 1u);
}

TEST_F(CircuitBreakerTest, OpenRejectsUntilTheSleepWindowPasses) {
  CircuitBreaker breaker({}, &clock_);
  Trip(breaker);
  for (int i = 0; i < 3; ++i) {
    Result<Permit> permit = breaker.TryAcquire();
    ASSERT_FALSE(permit.ok());
    EXPECT_EQ(permit.status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(permit.status().message(), "circuit open");
  }
  clock_.Advance(milliseconds(4'999));
  EXPECT_FALSE(breaker.Available());
  EXPECT_FALSE(breaker.TryAcquire().ok());
  EXPECT_EQ(breaker.counters().short_circuits, 4u);
  // Short-circuits are not errors: the failures stay the 20 that tripped it.
  EXPECT_EQ(breaker.counters().failures, 20u);

  clock_.Advance(milliseconds(1));
  EXPECT_TRUE(breaker.Available());
  EXPECT_EQ(breaker.state(), CircuitState::kOpen) << "moves only when a call asks";
  Result<Permit> probe = breaker.TryAcquire();
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(breaker.state(), CircuitState::kHalfOpen);
}

TEST_F(CircuitBreakerTest, HalfOpenAdmitsExactlyTheConfiguredProbes) {
  for (int probes : {1, 3}) {
    SCOPED_TRACE(probes);
    CircuitBreakerOptions options;
    options.half_open_probes = probes;
    CircuitBreaker breaker(options, &clock_);
    Trip(breaker);
    clock_.Advance(options.sleep_window);
    std::vector<Permit> out;
    for (int i = 0; i < probes; ++i) {
      Result<Permit> permit = breaker.TryAcquire();
      ASSERT_TRUE(permit.ok());
      out.push_back(std::move(*permit));
    }
    EXPECT_FALSE(breaker.Available());
    Result<Permit> extra = breaker.TryAcquire();
    ASSERT_FALSE(extra.ok());
    EXPECT_EQ(extra.status().message(), "circuit half-open: probes in flight");
    EXPECT_EQ(breaker.counters().short_circuits, 1u);
    EXPECT_EQ(breaker.state(), CircuitState::kHalfOpen);
    for (Permit& p : out) p.Success();
  }
}

TEST_F(CircuitBreakerTest, FailedProbeReopensAndRestartsTheSleepWindow) {
  CircuitBreaker breaker({}, &clock_);
  Trip(breaker);
  clock_.Advance(milliseconds(5'000));
  Result<Permit> probe = breaker.TryAcquire();
  ASSERT_TRUE(probe.ok());
  clock_.Advance(milliseconds(100));
  probe->Failure();
  EXPECT_EQ(breaker.state(), CircuitState::kOpen);
  EXPECT_FALSE(breaker.Available());

  // The window counts from the failed probe, not from the first trip.
  clock_.Advance(milliseconds(4'999));
  EXPECT_FALSE(breaker.TryAcquire().ok());
  clock_.Advance(milliseconds(1));
  EXPECT_TRUE(breaker.TryAcquire().ok());
}

TEST_F(CircuitBreakerTest, OneFailedProbeOfSeveralReopens) {
  CircuitBreakerOptions options;
  options.half_open_probes = 3;
  CircuitBreaker breaker(options, &clock_);
  Trip(breaker);
  clock_.Advance(options.sleep_window);
  Result<Permit> a = breaker.TryAcquire();
  Result<Permit> b = breaker.TryAcquire();
  Result<Permit> c = breaker.TryAcquire();
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  a->Success();
  b->Failure();
  EXPECT_EQ(breaker.state(), CircuitState::kOpen);
  // The last probe belongs to the half-open that just ended: its success cannot close anything.
  c->Success();
  EXPECT_EQ(breaker.state(), CircuitState::kOpen);
}

TEST_F(CircuitBreakerTest, SuccessfulProbesCloseAndEmptyTheWindow) {
  CircuitBreakerOptions options;
  options.half_open_probes = 2;
  CircuitBreaker breaker(options, &clock_);
  Trip(breaker);
  clock_.Advance(options.sleep_window);
  Result<Permit> a = breaker.TryAcquire();
  Result<Permit> b = breaker.TryAcquire();
  ASSERT_TRUE(a.ok() && b.ok());
  a->Success();
  EXPECT_EQ(breaker.state(), CircuitState::kHalfOpen) << "one of two probes is not enough";
  b->Success();
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
  EXPECT_EQ(breaker.health().requests, 0u);
  // A fresh window: the 20 failures that tripped it are gone, so 19 more do not reopen it.
  Fail(breaker, 19);
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
}

TEST_F(CircuitBreakerTest, ConcurrencyRejectionsCountAsFailures) {
  CircuitBreakerOptions options;
  options.max_concurrent_requests = 2;
  options.request_volume_threshold = 4;
  CircuitBreaker breaker(options, &clock_);
  Result<Permit> a = breaker.TryAcquire();
  Result<Permit> b = breaker.TryAcquire();
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 0; i < 3; ++i) {
    Result<Permit> refused = breaker.TryAcquire();
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().message(), "too many concurrent requests");
  }
  EXPECT_EQ(breaker.counters().rejections, 3u);
  EXPECT_EQ(breaker.health().errors, 3u);
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
  // The fourth rejection brings the window to 4 requests, all errors.
  EXPECT_FALSE(breaker.TryAcquire().ok());
  EXPECT_EQ(breaker.state(), CircuitState::kOpen);
}

// Calls still out from before the circuit opened, hung on the sick backend with no deadline of
// their own, hold every concurrency slot. The probe goes through all the same, and its success
// closes the circuit. Before, every probe was refused ("too many concurrent requests") and the
// circuit stayed half-open for as long as those calls hung.
TEST_F(CircuitBreakerTest, CallsHungFromBeforeTheTripDoNotStarveTheProbes) {
  CircuitBreakerOptions options;
  options.max_concurrent_requests = 2;
  options.request_volume_threshold = 4;
  CircuitBreaker breaker(options, &clock_);
  std::vector<Permit> hung;
  for (int i = 0; i < options.max_concurrent_requests; ++i) {
    Result<Permit> permit = breaker.TryAcquire();
    ASSERT_TRUE(permit.ok());
    hung.push_back(std::move(*permit));
  }
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(breaker.TryAcquire().ok());  // rejections trip it
  ASSERT_EQ(breaker.state(), CircuitState::kOpen);
  clock_.Advance(options.sleep_window);
  Result<Permit> probe = breaker.TryAcquire();
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(breaker.TryAcquire().status().message(), "circuit half-open: probes in flight");
  // That probe hangs too, times out, and the circuit opens again. It keeps its slot, so the next
  // half-open finds none: calls hung on the backend stay bounded.
  clock_.Advance(options.timeout + milliseconds(1));
  EXPECT_FALSE(breaker.TryAcquire().ok());
  EXPECT_EQ(breaker.state(), CircuitState::kOpen);
  clock_.Advance(options.sleep_window);
  EXPECT_FALSE(breaker.Available());
  EXPECT_EQ(breaker.TryAcquire().status().message(), "too many concurrent requests");
  probe->Failure();  // at last: a stale report, which frees its slot
  EXPECT_TRUE(breaker.Available());
  Result<Permit> next_probe = breaker.TryAcquire();
  ASSERT_TRUE(next_probe.ok()) << next_probe.status().ToString();
  next_probe->Success();
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
  // Closed, the circuit counts every call in flight again.
  EXPECT_EQ(breaker.TryAcquire().status().message(), "too many concurrent requests");
}

TEST_F(CircuitBreakerTest, ReportingFreesTheConcurrencySlot) {
  CircuitBreakerOptions options;
  options.max_concurrent_requests = 1;
  CircuitBreaker breaker(options, &clock_);
  Result<Permit> a = breaker.TryAcquire();
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(breaker.TryAcquire().ok());
  a->Success();
  EXPECT_TRUE(breaker.TryAcquire().ok());
}

TEST_F(CircuitBreakerTest, SlowCallsAreTimeoutsWhateverTheyReport) {
  CircuitBreaker breaker({}, &clock_);
  Result<Permit> on_time = breaker.TryAcquire();
  Result<Permit> late = breaker.TryAcquire();
  ASSERT_TRUE(on_time.ok() && late.ok());
  clock_.Advance(milliseconds(1000));
  on_time->Success();  // exactly the timeout is not longer than it
  clock_.Advance(nanoseconds(1));
  late->Success();
  const auto counters = breaker.counters();
  EXPECT_EQ(counters.successes, 1u);
  EXPECT_EQ(counters.timeouts, 1u);
  EXPECT_EQ(breaker.health().errors, 1u);
}

TEST_F(CircuitBreakerTest, TimeoutsOpenTheCircuit) {
  CircuitBreakerOptions options;
  options.max_concurrent_requests = 20;
  CircuitBreaker breaker(options, &clock_);
  std::vector<Permit> calls;
  for (int i = 0; i < 20; ++i) {
    Result<Permit> permit = breaker.TryAcquire();
    ASSERT_TRUE(permit.ok());
    calls.push_back(std::move(*permit));
  }
  clock_.Advance(milliseconds(1001));
  for (Permit& call : calls) call.Success();
  EXPECT_EQ(breaker.counters().timeouts, 20u);
  EXPECT_EQ(breaker.state(), CircuitState::kOpen);
}

TEST_F(CircuitBreakerTest, UnreportedPermitIsAFailureAndFreesItsSlot) {
  CircuitBreakerOptions options;
  options.max_concurrent_requests = 1;
  CircuitBreaker breaker(options, &clock_);
  { Result<Permit> dropped = breaker.TryAcquire(); }
  EXPECT_EQ(breaker.counters().failures, 1u);
  Result<Permit> next = breaker.TryAcquire();
  ASSERT_TRUE(next.ok());
  next->Success();
  next->Failure();  // a second report is ignored
  EXPECT_EQ(breaker.counters().successes, 1u);
  EXPECT_EQ(breaker.counters().failures, 1u);
}

TEST_F(CircuitBreakerTest, RunClassifiesStatusesAndTimesTheCall) {
  CircuitBreaker breaker({}, &clock_);
  EXPECT_TRUE(breaker.Run([] { return Status::Ok(); }).ok());
  EXPECT_EQ(breaker.Run([] { return Status::Unavailable("down"); }).code(),
            StatusCode::kUnavailable);
  // The request's own fault says nothing about the backend's health.
  EXPECT_EQ(breaker.Run([] { return Status::InvalidArgument("bad key"); }).code(),
            StatusCode::kInvalidArgument);
  // A call that overran its timeout keeps its result but counts as a timeout.
  EXPECT_TRUE(breaker
                  .Run([this] {
                    clock_.Advance(milliseconds(1500));
                    return Status::Ok();
                  })
                  .ok());
  const auto counters = breaker.counters();
  EXPECT_EQ(counters.successes, 2u);
  EXPECT_EQ(counters.failures, 1u);
  EXPECT_EQ(counters.timeouts, 1u);
}

TEST_F(CircuitBreakerTest, RunDoesNotCallThroughAnOpenCircuit) {
  CircuitBreaker breaker({}, &clock_);
  Trip(breaker);
  int calls = 0;
  Status status = breaker.Run([&] {
    ++calls;
    return Status::Ok();
  });
  EXPECT_EQ(status, Status::Unavailable("circuit open"));
  EXPECT_EQ(calls, 0);
}

TEST_F(CircuitBreakerTest, HungProbeReopensWhenItTimesOut) {
  CircuitBreaker breaker({}, &clock_);
  Trip(breaker);
  clock_.Advance(milliseconds(5'000));
  Result<Permit> probe = breaker.TryAcquire();
  ASSERT_TRUE(probe.ok());
  clock_.Advance(milliseconds(1000));
  EXPECT_FALSE(breaker.TryAcquire().ok()) << "still within its timeout: the probe is out";
  clock_.Advance(nanoseconds(1));
  Result<Permit> refused = breaker.TryAcquire();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), "circuit open");
  EXPECT_EQ(breaker.state(), CircuitState::kOpen);

  // The sleep window counts from the moment the probe timed out, not from when it was noticed.
  clock_.Advance(milliseconds(5'000) - nanoseconds(1));
  Result<Permit> second = breaker.TryAcquire();
  ASSERT_TRUE(second.ok());
  // The hung probe's late success describes the past: it does not close the circuit.
  probe->Success();
  EXPECT_EQ(breaker.state(), CircuitState::kHalfOpen);
  EXPECT_EQ(breaker.counters().timeouts, 1u);
  second->Success();
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
}

TEST_F(CircuitBreakerTest, AvailableSeesAHungProbeWithoutAnyoneAcquiring) {
  CircuitBreaker breaker({}, &clock_);
  Trip(breaker);
  clock_.Advance(milliseconds(5'000));
  Result<Permit> probe = breaker.TryAcquire();
  ASSERT_TRUE(probe.ok());
  clock_.Advance(milliseconds(1000) + nanoseconds(1));
  EXPECT_FALSE(breaker.Available());
  clock_.Advance(milliseconds(5'000) - nanoseconds(2));
  EXPECT_FALSE(breaker.Available());
  clock_.Advance(nanoseconds(1));
  EXPECT_TRUE(breaker.Available()) << "a sleep window after the probe timed out";
  EXPECT_TRUE(breaker.TryAcquire().ok());
}

TEST_F(CircuitBreakerTest, OnlyProbesStillOutCanTimeOut) {
  CircuitBreakerOptions options;
  options.half_open_probes = 2;
  CircuitBreaker breaker(options, &clock_);
  Trip(breaker);
  clock_.Advance(options.sleep_window);
  Result<Permit> early = breaker.TryAcquire();
  ASSERT_TRUE(early.ok());
  early->Success();
  clock_.Advance(milliseconds(600));
  Result<Permit> late = breaker.TryAcquire();
  ASSERT_TRUE(late.ok());
  // 1.1 s after the first probe, which has long reported; the second is 0.5 s old.
  clock_.Advance(milliseconds(500));
  EXPECT_FALSE(breaker.TryAcquire().ok());
  EXPECT_EQ(breaker.state(), CircuitState::kHalfOpen);
  late->Success();
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
}

TEST_F(CircuitBreakerTest, ResultFromBeforeTheTripDoesNotCloseIt) {
  CircuitBreaker breaker({}, &clock_);
  Result<Permit> slow = breaker.TryAcquire();
  ASSERT_TRUE(slow.ok());
  Trip(breaker);
  clock_.Advance(milliseconds(5'000));
  Result<Permit> probe = breaker.TryAcquire();
  ASSERT_TRUE(probe.ok());
  slow->Failure();  // would reopen the circuit if it were taken for the probe
  EXPECT_EQ(breaker.state(), CircuitState::kHalfOpen);
  probe->Success();
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
}

TEST_F(CircuitBreakerTest, StateChangeCallbackSeesEveryTransition) {
  std::vector<std::pair<CircuitState, CircuitState>> seen;
  CircuitBreakerOptions options;
  options.on_state_change = [&](CircuitState from, CircuitState to) {
    seen.emplace_back(from, to);
  };
  CircuitBreaker breaker(options, &clock_);
  Trip(breaker);
  clock_.Advance(options.sleep_window);
  Calls(breaker, 1, false);
  clock_.Advance(options.sleep_window);
  Calls(breaker, 1, true);
  using S = CircuitState;
  const std::vector<std::pair<S, S>> expected = {{S::kClosed, S::kOpen},
                                                 {S::kOpen, S::kHalfOpen},
                                                 {S::kHalfOpen, S::kOpen},
                                                 {S::kOpen, S::kHalfOpen},
                                                 {S::kHalfOpen, S::kClosed}};
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(CircuitStateName(S::kHalfOpen), "half-open");
}

TEST_F(CircuitBreakerTest, ThreadsNeverHoldMoreThanTheConcurrencyLimit) {
  CircuitBreakerOptions options;
  options.request_volume_threshold = 1'000'000;  // stay closed whatever happens
  CircuitBreaker breaker(options, &clock_);
  constexpr int kThreads = 8;
  std::atomic<int> admitted = 0;
  std::vector<std::vector<Permit>> held(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        Result<Permit> permit = breaker.TryAcquire();
        if (permit.ok()) {
          ++admitted;
          held[t].push_back(std::move(*permit));
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), options.max_concurrent_requests);
  EXPECT_EQ(breaker.counters().rejections, kThreads * 500u - options.max_concurrent_requests);
}

// A write whose connection dropped after it was sent, or that the server could not commit in time,
// ends OUTCOME_UNKNOWN: the backend gave no answer, so a probe that ends that way has not shown it
// is back, and the circuit must stay open.
TEST_F(CircuitBreakerTest, ProbeWithUnknownOutcomeReopens) {
  std::vector<std::pair<CircuitState, CircuitState>> seen;
  CircuitBreakerOptions options;
  options.on_state_change = [&](CircuitState from, CircuitState to) {
    seen.emplace_back(from, to);
  };
  CircuitBreaker breaker(options, &clock_);
  Trip(breaker);
  clock_.Advance(options.sleep_window);
  const Status status =
      breaker.Run([] { return Status::OutcomeUnknown("connection lost after sending"); });
  EXPECT_EQ(status.code(), StatusCode::kOutcomeUnknown);
  using S = CircuitState;
  const std::vector<std::pair<S, S>> expected = {
      {S::kClosed, S::kOpen}, {S::kOpen, S::kHalfOpen}, {S::kHalfOpen, S::kOpen}};
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(breaker.state(), CircuitState::kOpen);
  EXPECT_FALSE(breaker.Available());
}

// A caller that read the clock just before a slice boundary can reach the lock after others have
// counted in the next slice. With one bucket, counting it in the slice it read would reuse the
// bucket for that slice and forget every newer error, so the circuit would not open.
TEST_F(CircuitBreakerTest, CallerLateFromThePreviousSliceCountsInTheCurrentOne) {
  CircuitBreakerOptions options;
  options.rolling_window_buckets = 1;
  CircuitBreaker breaker(options, &clock_);
  clock_.Advance(options.rolling_window);
  Fail(breaker, 18);
  clock_.Advance(-milliseconds(1));  // the late caller's reading
  Fail(breaker, 1);
  clock_.Advance(milliseconds(1));
  EXPECT_EQ(breaker.health().requests, 19u);
  Fail(breaker, 1);
  EXPECT_EQ(breaker.state(), CircuitState::kOpen);
}

}  // namespace
}  // namespace pharos::client
