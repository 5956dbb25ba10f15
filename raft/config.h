// RaftConfig: the knobs of one Raft core. Timing is in ticks; the application decides how long a
// tick is (10 ms by default in pharosd). Plain struct, copied into the core at construction.
#pragma once

#include <cstdint>

#include "common/status.h"

namespace pharos::raft {

struct RaftConfig {
  // This node's id; never 0 (0 means "none" throughout the core).
  uint64_t id = 0;
  // Election timeout is drawn uniformly from [election_tick_min, election_tick_max) every time the
  // timer is reset: with 10 ms ticks, [150 ms, 300 ms).
  int election_tick_min = 15;
  int election_tick_max = 30;
  // Leader heartbeat interval: 50 ms at 10 ms ticks.
  int heartbeat_tick = 5;
  // Upper bound on the entry bytes in one AppendEntries message (at least one entry is sent).
  uint64_t max_size_per_msg = 1 << 20;
  // In-flight AppendEntries window per follower in replicate state, by count and by bytes.
  int max_inflight_msgs = 256;
  uint64_t max_inflight_bytes = 32 << 20;
  // A learner is promoted only once its log is within this many entries of the commit index: a
  // voter that lags would count toward quorums it cannot serve yet.
  uint64_t promote_max_lag = 64;
  // A node must win a pre-election before raising its term (Raft thesis §9.6).
  bool pre_vote = true;
  // A leader steps down when it has not heard from a quorum for an election timeout, and
  // followers that heard from a leader recently refuse votes (thesis §4.2.3).
  bool check_quorum = true;
  // Seed of the generator that randomizes election timeouts: the core's only randomness.
  uint64_t seed = 1;
  // The index the application has already applied (restart); entries up to it are not handed
  // out again.
  uint64_t applied = 0;
  // A leader that learns of a new commit index (a follower's acknowledgement, its own write
  // durable) does not send every follower an append of its own just to carry it: the index rides
  // on the next append (the next proposal), and otherwise leaves when the application calls
  // SendDeferredCommit() (see commit_broadcast_pending()), or with the next heartbeat. Sent at
  // once, one put at a time cost each follower two appends and two acknowledgements, the second
  // pair only to learn what the next put's append would tell it.
  bool defer_commit_broadcast = false;

  Status Validate() const;
};

}  // namespace pharos::raft
