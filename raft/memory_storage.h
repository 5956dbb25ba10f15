// MemoryStorage: Storage kept in memory, for unit tests and the simulation (where "durable" means
// "in this object", and a simulated crash keeps it while dropping everything else). Not
// thread-safe: one owner at a time.
#pragma once

#include <memory>
#include <vector>

#include "raft/storage.h"

namespace pharos::raft {

class MemoryStorage : public Storage {
 public:
  // An empty log: a node that will join an existing cluster.
  MemoryStorage();
  // The log of an initial member of a new cluster whose voters are `voters` (BootstrapEntries,
  // committed).
  static std::unique_ptr<MemoryStorage> Bootstrap(const std::vector<uint64_t>& voters);

  Result<InitialState> GetInitialState() const override;
  Result<std::vector<raftpb::Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const override;
  Result<uint64_t> Term(uint64_t i) const override;
  uint64_t FirstIndex() const override;
  uint64_t LastIndex() const override;
  Result<raftpb::Snapshot> GetSnapshot() const override;

  void SetHardState(const raftpb::HardState& hs) { hard_state_ = hs; }
  // Appends entries, replacing any existing suffix from the first entry's index on. The entries
  // must be contiguous and start at most one past LastIndex().
  Status Append(const std::vector<raftpb::Entry>& entries);
  // Replaces the whole log with a snapshot received from the leader.
  Status ApplySnapshot(const raftpb::Snapshot& snapshot);
  // Records a snapshot of the application's state at `index` (which must be in the log) and
  // discards log entries at or below `index`.
  Status CreateSnapshotAndCompact(uint64_t index, const raftpb::ConfState& conf_state,
                                  std::string data);

  const raftpb::HardState& hard_state() const { return hard_state_; }

 private:
  uint64_t offset() const { return entries_.front().index(); }

  raftpb::HardState hard_state_;
  raftpb::Snapshot snapshot_;
  // entries_[0] is a placeholder holding the snapshot's index and term.
  std::vector<raftpb::Entry> entries_;
};

}  // namespace pharos::raft
