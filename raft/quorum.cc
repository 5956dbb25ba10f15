#include "raft/quorum.h"

#include <algorithm>

namespace pharos::raft {

uint64_t CommittedIndex(const std::vector<uint64_t>& voters,
                        const std::function<uint64_t(uint64_t)>& index_of) {
  if (voters.empty()) return 0;
  std::vector<uint64_t> indexes;
  indexes.reserve(voters.size());
  for (uint64_t id : voters) indexes.push_back(index_of(id));
  std::sort(indexes.begin(), indexes.end(), std::greater<>());
  return indexes[QuorumSize(voters.size()) - 1];
}

VoteResult TallyVotes(const std::vector<uint64_t>& voters, const std::map<uint64_t, bool>& votes) {
  size_t granted = 0, rejected = 0;
  for (uint64_t id : voters) {
    auto it = votes.find(id);
    if (it == votes.end()) continue;
    (it->second ? granted : rejected)++;
  }
  const size_t q = QuorumSize(voters.size());
  if (granted >= q) return VoteResult::kWon;
  if (voters.size() - rejected < q) return VoteResult::kLost;
  return VoteResult::kPending;
}

}  // namespace pharos::raft
