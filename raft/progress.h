// Progress: what the leader knows of one follower's log, and how it sends to it (etcd's tracker
// states). Probe: one message per heartbeat until the follower's position is found. Replicate:
// pipelined messages within the Inflights window. Snapshot: waiting for a snapshot transfer to
// finish. Owned by the leader's Raft core; single-threaded.
#pragma once

#include <cstdint>
#include <string>

#include "raft/inflights.h"

namespace pharos::raft {

class Progress {
 public:
  enum class State { kProbe, kReplicate, kSnapshot };

  Progress(uint64_t next, int max_inflight, uint64_t max_inflight_bytes, bool is_learner)
      : next(next), is_learner(is_learner), inflights(max_inflight, max_inflight_bytes) {}

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);
  // The follower acknowledged index n: raises match (and next). Returns whether match rose.
  bool MaybeUpdate(uint64_t n);
  // A rejection of the message probing `rejected`; `hint` is where to probe next. Returns false
  // for a stale rejection that changes nothing.
  bool MaybeDecrTo(uint64_t rejected, uint64_t hint);
  // No more messages should go out now (probe already sent, window full, snapshot pending).
  bool IsPaused() const;
  // Called after a message carrying entries up to `last` (bytes of entries) was sent.
  void SentEntries(uint64_t last, uint64_t bytes);

  uint64_t match = 0;
  uint64_t next = 1;
  State state = State::kProbe;
  uint64_t pending_snapshot = 0;
  // Heard from since the last CheckQuorum round.
  bool recent_active = false;
  // Probe state: a message is out and unanswered (cleared by a periodic heartbeat's response).
  bool probe_sent = false;
  // A periodic heartbeat went out since the last heartbeat response: the next response may retry
  // what may have been lost (resend a probe, free an inflight slot). A read round's heartbeat
  // does not set it. Retried on every response, a follower slow to answer its probe was sent the
  // same full-size probe again for every linearizable read: at hundreds of reads a second the
  // leader's raft thread spent seconds re-reading its log, stopped heartbeating, and was deposed.
  bool heartbeat_retry_armed = false;
  bool is_learner = false;
  // The commit index carried by the last append sent (RaftConfig::defer_commit_broadcast).
  uint64_t commit_sent = 0;
  Inflights inflights;
};

std::string ProgressStateName(Progress::State s);

}  // namespace pharos::raft
