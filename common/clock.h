// Clock: where time-dependent code (lease expiry, rate limiters, breakers, backoff) reads the
// time, so tests can drive it with FakeClock instead of sleeping. SystemClock is thread-safe;
// FakeClock is safe to read from several threads while one test thread advances it.
#pragma once

#include <atomic>
#include <chrono>

namespace pharos {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  static SystemClock* Instance() {
    static SystemClock clock;
    return &clock;
  }
};

class FakeClock : public Clock {
 public:
  TimePoint Now() const override { return TimePoint(std::chrono::nanoseconds(now_ns_.load())); }
  void Advance(std::chrono::nanoseconds d) { now_ns_ += d.count(); }

 private:
  // Starts well after the epoch so "now minus a timeout" never underflows.
  std::atomic<int64_t> now_ns_{int64_t{1'000'000} * 1'000'000'000};
};

}  // namespace pharos
