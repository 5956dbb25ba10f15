// ReadOnly: the leader's pending ReadIndex requests (Raft thesis §6.4). Each request records the
// commit index when it arrived and waits for a quorum of heartbeat acknowledgements carrying its
// context; once it has them, it and every older request may be served. Single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <vector>

namespace pharos::raft {

struct ReadIndexRequest {
  std::string context;
  uint64_t index = 0;
  // Who asked: the leader itself or a follower that forwarded the request.
  uint64_t from = 0;
  std::set<uint64_t> acks;
};

class ReadOnly {
 public:
  void Add(std::string context, uint64_t index, uint64_t from, uint64_t self);
  // A heartbeat response from `from` echoed `context`: acknowledges that request and, since
  // heartbeats carry the newest context, every older one. Returns the acks of `context`'s request
  // (empty if unknown).
  const std::set<uint64_t>* RecvAck(uint64_t from, const std::string& context);
  // Removes and returns the requests up to and including `context`'s.
  std::vector<ReadIndexRequest> Release(const std::string& context);
  // Context to put on the next heartbeat: the newest pending request's.
  std::string LastPendingContext() const;
  bool Empty() const { return pending_.empty(); }
  void Reset() { pending_.clear(); }

 private:
  std::deque<ReadIndexRequest> pending_;
};

}  // namespace pharos::raft
