#include "tools/bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace pharos::bench {

// Values below kSteps get a bucket each; above, the top kSubBits bits after the leading one pick
// the step within the value's power of two.
int Histogram::BucketOf(int64_t nanos) {
  if (nanos < kSteps) return static_cast<int>(std::max<int64_t>(nanos, 0));
  const int power = std::bit_width(static_cast<uint64_t>(nanos)) - 1;  // >= kSubBits
  const int step = static_cast<int>((nanos >> (power - kSubBits)) & (kSteps - 1));
  const int bucket = (power - kSubBits + 1) * kSteps + step;
  return std::min(bucket, kSteps * kPowers - 1);
}

int64_t Histogram::UpperBoundOf(int bucket) {
  if (bucket < kSteps) return bucket;
  const int power = bucket / kSteps + kSubBits - 1;
  const int64_t step = bucket % kSteps;
  const int64_t width = int64_t{1} << (power - kSubBits);
  return (int64_t{1} << power) + (step + 1) * width - 1;
}

void Histogram::Record(int64_t nanos) {
  ++buckets_[BucketOf(nanos)];
  ++count_;
  sum_ += nanos;
  max_ = std::max(max_, nanos);
}

void Histogram::Merge(const Histogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

int64_t Histogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  const auto rank = static_cast<int64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  int64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= std::max<int64_t>(rank, 1)) {
      return std::min(UpperBoundOf(static_cast<int>(i)), max_);
    }
  }
  return max_;
}

}  // namespace pharos::bench
