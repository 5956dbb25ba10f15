#include "raft/inflights.h"

namespace pharos::raft {

void Inflights::Add(uint64_t last_index, uint64_t bytes) {
  items_.push_back({last_index, bytes});
  bytes_ += bytes;
}

void Inflights::FreeLE(uint64_t index) {
  while (!items_.empty() && items_.front().last_index <= index) {
    bytes_ -= items_.front().bytes;
    items_.pop_front();
  }
}

void Inflights::FreeFirstOne() {
  if (items_.empty()) return;
  bytes_ -= items_.front().bytes;
  items_.pop_front();
}

bool Inflights::Full() const {
  return static_cast<int>(items_.size()) >= max_count_ || (max_bytes_ > 0 && bytes_ >= max_bytes_);
}

void Inflights::Reset() {
  items_.clear();
  bytes_ = 0;
}

}  // namespace pharos::raft
