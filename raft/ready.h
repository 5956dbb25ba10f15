// Ready: what the Raft core asks of its application after a batch of steps, and the contract for
// handing it back (Node::Advance). The rules, in order:
//   1. Persist `hard_state`, `entries` (appending, replacing any suffix they overlap) and
//      `snapshot` durably (fsync). A hard state that changes only the commit index (must_sync
//      false) may be left unwritten until a later write: Raft does not need the commit index to
//      survive a crash, and Node::Create takes the applied index as committed.
//   2. `messages` may be sent at once, even before (1) completes: the core puts there only
//      messages that depend on nothing in this Ready being durable (a leader's AppendEntries and
//      heartbeats, pre-votes, forwarded reads). A leader thus replicates in parallel with its own
//      fsync, and counts itself toward a quorum only after Advance tells it the write is durable.
//   3. `messages_after_persist` may be sent only after (1) completes: votes and vote grants (the
//      vote must survive a crash) and AppendEntries acknowledgements (a follower acknowledges
//      only what it will still hold after a crash).
//   4. `committed_entries` are already durable in this node's log (the core hands out only
//      entries an earlier Ready persisted), so they may be applied at once, in parallel with
//      (1). `snapshot` is applied after (1); a Ready that carries one has no committed entries.
//      The application applies everything it is handed in the order it was handed.
//   5. Call Advance(). No other Ready is produced until then; the node may be stepped meanwhile.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto/raft.pb.h"

namespace pharos::raft {

enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };
const char* RoleName(Role r);

struct SoftState {
  uint64_t lead = 0;
  Role role = Role::kFollower;
  friend bool operator==(const SoftState&, const SoftState&) = default;
};

// A linearizable read may be served once the state machine has applied `index`.
struct ReadState {
  uint64_t index = 0;
  std::string context;
};

struct Ready {
  std::optional<SoftState> soft_state;
  std::optional<raftpb::HardState> hard_state;
  std::vector<raftpb::Entry> entries;
  std::optional<raftpb::Snapshot> snapshot;
  std::vector<raftpb::Entry> committed_entries;
  std::vector<raftpb::Message> messages;
  std::vector<raftpb::Message> messages_after_persist;
  std::vector<ReadState> read_states;

  // Whether step 1 needs an fsync (term, vote or entries changed, or a snapshot arrived).
  bool must_sync = false;
};

}  // namespace pharos::raft
