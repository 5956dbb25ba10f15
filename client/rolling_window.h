// RollingWindow: event counts over the last `window` of time, kept in `buckets` slices so old
// events fall out a slice at a time (Hystrix's rolling number). The circuit breaker counts
// successes and failures in one; adaptive throttling counts requests and accepts in another.
// The window covers the current slice and the buckets-1 before it, so an event leaves between
// window-width and window after it happened. Not thread-safe: the owner locks around it.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/clock.h"

namespace pharos::client {

template <size_t kFields>
class RollingWindow {
 public:
  using Counts = std::array<uint64_t, kFields>;

  // A window that does not divide evenly is rounded down to buckets × (window / buckets);
  // nonsense (no buckets, zero width) is raised to one bucket of one nanosecond, so a bad option
  // can never divide by zero.
  RollingWindow(std::chrono::nanoseconds window, int buckets)
      : width_(std::max<std::chrono::nanoseconds::rep>(1, window.count() / std::max(1, buckets))),
        buckets_(static_cast<size_t>(std::max(1, buckets))) {}

  void Add(Clock::TimePoint now, size_t field, uint64_t n = 1) {
    const int64_t index = Index(now);
    Bucket& b = buckets_[Slot(index)];
    if (b.index != index) {
      // The slot last held a slice that has since left the window: reuse it.
      b.index = index;
      b.counts = {};
    }
    b.counts[field] += n;
  }

  Counts Sum(Clock::TimePoint now) const {
    const int64_t index = Index(now);
    const int64_t oldest = index - static_cast<int64_t>(buckets_.size()) + 1;
    Counts sum{};
    for (const Bucket& b : buckets_) {
      if (b.index < oldest || b.index > index) continue;
      for (size_t f = 0; f < kFields; ++f) sum[f] += b.counts[f];
    }
    return sum;
  }

  void Reset() {
    for (Bucket& b : buckets_) b = Bucket{};
  }

  std::chrono::nanoseconds bucket_width() const { return std::chrono::nanoseconds(width_); }

 private:
  struct Bucket {
    // Slices are numbered by absolute time, so a slot can tell a stale slice from a current one
    // without a background thread rotating buckets.
    int64_t index = std::numeric_limits<int64_t>::min();
    Counts counts{};
  };

  int64_t Index(Clock::TimePoint now) const { return now.time_since_epoch().count() / width_; }
  size_t Slot(int64_t index) const {
    const auto n = static_cast<int64_t>(buckets_.size());
    return static_cast<size_t>(((index % n) + n) % n);
  }

  std::chrono::nanoseconds::rep width_;
  std::vector<Bucket> buckets_;
};

}  // namespace pharos::client
