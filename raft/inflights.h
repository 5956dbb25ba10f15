// Inflights: the AppendEntries messages sent to one follower and not yet acknowledged, bounded by
// count and by bytes so a slow follower cannot make the leader buffer without end. Part of the
// leader's Progress; single-threaded.
#pragma once

#include <cstdint>
#include <deque>

namespace pharos::raft {

class Inflights {
 public:
  Inflights(int max_count, uint64_t max_bytes) : max_count_(max_count), max_bytes_(max_bytes) {}

  // Records a message whose last entry is `last_index`, carrying `bytes` of entries.
  void Add(uint64_t last_index, uint64_t bytes);
  // The follower acknowledged everything up to `index`.
  void FreeLE(uint64_t index);
  // Frees the oldest message: it was probably lost, and a full window would stall the follower
  // for good (a heartbeat response proves the follower is alive).
  void FreeFirstOne();
  bool Full() const;
  void Reset();
  int Count() const { return static_cast<int>(items_.size()); }

 private:
  struct Item {
    uint64_t last_index;
    uint64_t bytes;
  };
  int max_count_;
  uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  std::deque<Item> items_;
};

}  // namespace pharos::raft
