// Majority arithmetic, kept apart from the rest of the core so it can be checked on its own (as
// etcd's quorum/ package): the highest index a majority of voters has, and election tallies.
// Pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

namespace pharos::raft {

enum class VoteResult { kPending, kWon, kLost };

// Votes needed among n voters.
inline size_t QuorumSize(size_t n) { return n / 2 + 1; }

// The largest index that at least a quorum of `voters` have reached, given each voter's index.
// With no voters there is nothing to commit: returns 0.
uint64_t CommittedIndex(const std::vector<uint64_t>& voters,
                        const std::function<uint64_t(uint64_t)>& index_of);

// votes: voter id -> granted. Won once a quorum granted, lost once a quorum can no longer grant.
VoteResult TallyVotes(const std::vector<uint64_t>& voters, const std::map<uint64_t, bool>& votes);

}  // namespace pharos::raft
