#include "raft/config.h"

#include <string>

namespace pharos::raft {

Status RaftConfig::Validate() const {
  if (id == 0) return Status::InvalidArgument("raft: node id must not be 0");
  if (heartbeat_tick <= 0) return Status::InvalidArgument("raft: heartbeat_tick must be positive");
  if (election_tick_min <= heartbeat_tick) {
    return Status::InvalidArgument("raft: election_tick_min (" + std::to_string(election_tick_min) +
                                   ") must exceed heartbeat_tick (" +
                                   std::to_string(heartbeat_tick) + ")");
  }
  if (election_tick_max <= election_tick_min) {
    return Status::InvalidArgument("raft: election_tick_max must exceed election_tick_min");
  }
  if (max_inflight_msgs <= 0) return Status::InvalidArgument("raft: max_inflight_msgs must be > 0");
  if (max_size_per_msg == 0) return Status::InvalidArgument("raft: max_size_per_msg must be > 0");
  return Status::Ok();
}

}  // namespace pharos::raft
