// Storage: the durable log and hard state as the Raft core reads them. The application writes to
// its storage (after Ready, before Advance); the core only reads. Implementations: MemoryStorage
// (tests, simulation) and the RocksDB LogStore. Called from the core's thread only.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "proto/raft.pb.h"

namespace pharos::raft {

struct InitialState {
  raftpb::HardState hard_state;
  // Membership as of the latest snapshot (or the bootstrap membership when there is none); the
  // core replays configuration entries found in the log on top of it.
  raftpb::ConfState conf_state;
};

class Storage {
 public:
  virtual ~Storage() = default;

  virtual Result<InitialState> GetInitialState() const = 0;
  // Entries in [lo, hi), stopping once max_bytes is exceeded but always returning at least one
  // entry when lo < hi. kCompacted when lo is below FirstIndex().
  virtual Result<std::vector<raftpb::Entry>> Entries(uint64_t lo, uint64_t hi,
                                                     uint64_t max_bytes) const = 0;
  // Term of entry i, for i in [FirstIndex() - 1, LastIndex()] (FirstIndex() - 1 is the snapshot's
  // index). kCompacted below that range, kUnavailable above it.
  virtual Result<uint64_t> Term(uint64_t i) const = 0;
  // Index of the first entry still in the log (snapshot index + 1).
  virtual uint64_t FirstIndex() const = 0;
  virtual uint64_t LastIndex() const = 0;
  // The most recent snapshot; kUnavailable when it is being produced.
  virtual Result<raftpb::Snapshot> GetSnapshot() const = 0;
};

}  // namespace pharos::raft
