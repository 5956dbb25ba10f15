// Membership: the configuration in force and the configuration entries in the log that produced
// it. A configuration takes effect when its entry is appended (Raft thesis §4.1), so a truncated
// configuration entry must roll the configuration back to the one before it: this class keeps
// the history needed for that. Owned by the Raft core; single-threaded.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "proto/raft.pb.h"

namespace pharos::raft {

// The configuration `cs` becomes after `cc`; kInvalidArgument if `cc` does not apply to `cs`
// (promoting a non-learner, re-adding a removed id, removing an absent one).
Status ApplyConfChange(const raftpb::ConfState& cs, const raftpb::ConfChange& cc,
                       raftpb::ConfState* out);

// The first entries of a new cluster's log: one ADD_VOTER per initial member at indexes 1..n,
// term 1, committed. Every initial member writes the same entries, and a member added later
// learns the initial membership from them (or from a snapshot), never from outside the log.
std::vector<raftpb::Entry> BootstrapEntries(const std::vector<uint64_t>& voters);

bool IsVoter(const raftpb::ConfState& cs, uint64_t id);
bool IsLearner(const raftpb::ConfState& cs, uint64_t id);
bool WasRemoved(const raftpb::ConfState& cs, uint64_t id);

class Membership {
 public:
  // `base` is the configuration as of `base_index` (the snapshot's index).
  void Reset(uint64_t base_index, const raftpb::ConfState& base);
  // Entries were written to the log from entries.front().index() on: forget configurations from
  // that index on, then take in any configuration entries among `entries`.
  void OnAppend(const std::vector<raftpb::Entry>& entries);

  const raftpb::ConfState& current() const;
  // The configuration in force once the log up to `index` is taken into account.
  const raftpb::ConfState& At(uint64_t index) const;
  // Index of the newest configuration entry in the log (base_index when there is none).
  uint64_t LastConfigIndex() const;
  std::vector<uint64_t> Voters() const;

 private:
  struct Change {
    uint64_t index;
    raftpb::ConfState conf_state;
  };
  uint64_t base_index_ = 0;
  raftpb::ConfState base_;
  std::vector<Change> changes_;
};

}  // namespace pharos::raft
