// Histogram: latencies recorded into log-linear buckets (64 linear steps per power of two, so a
// percentile is within 1.6% of the true value) instead of a vector of samples, so a run of
// millions of operations, or a watch run with a thousand watchers, costs a fixed 21 KiB per
// recorder. Also keeps the exact count, sum and max.
//
// Thread rules: none inside; give each thread its own and Merge() them when the threads are done.
#pragma once

#include <array>
#include <cstdint>

namespace pharos::bench {

class Histogram {
 public:
  void Record(int64_t nanos);
  void Merge(const Histogram& other);

  int64_t count() const { return count_; }
  int64_t max_nanos() const { return max_; }
  double mean_nanos() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }
  // The value at percentile `p` (0..100), in nanoseconds; 0 when empty.
  int64_t Percentile(double p) const;

 private:
  static constexpr int kSubBits = 6;  // 64 steps per power of two
  static constexpr int kSteps = 1 << kSubBits;
  static constexpr int kPowers = 42;  // up to 2^47 ns, over a day
  static int BucketOf(int64_t nanos);
  static int64_t UpperBoundOf(int bucket);

  std::array<int64_t, kSteps * kPowers> buckets_{};
  int64_t count_ = 0;
  int64_t sum_ = 0;
  int64_t max_ = 0;
};

}  // namespace pharos::bench
