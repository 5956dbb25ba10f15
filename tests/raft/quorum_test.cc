#include "raft/quorum.h"

#include <gtest/gtest.h>

namespace pharos::raft {
namespace {

TEST(QuorumTest, CommittedIndexIsWhatAMajorityHas) {
  std::map<uint64_t, uint64_t> match{{1, 5}, {2, 9}, {3, 7}};
  auto of = [&](uint64_t id) { return match[id]; };
  EXPECT_EQ(CommittedIndex({1, 2, 3}, of), 7u);
  EXPECT_EQ(CommittedIndex({2}, of), 9u);
  EXPECT_EQ(CommittedIndex({1, 2}, of), 5u);  // two voters need both
  match = {{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}};
  EXPECT_EQ(CommittedIndex({1, 2, 3, 4, 5}, of), 3u);
  EXPECT_EQ(CommittedIndex({}, of), 0u);  // nobody can commit anything
}

TEST(QuorumTest, TallyWinsLosesOrWaits) {
  EXPECT_EQ(TallyVotes({1, 2, 3}, {{1, true}}), VoteResult::kPending);
  EXPECT_EQ(TallyVotes({1, 2, 3}, {{1, true}, {2, true}}), VoteResult::kWon);
  EXPECT_EQ(TallyVotes({1, 2, 3}, {{1, true}, {2, false}, {3, false}}), VoteResult::kLost);
  EXPECT_EQ(TallyVotes({1, 2, 3, 4}, {{1, true}, {2, true}, {3, false}}), VoteResult::kPending);
  EXPECT_EQ(TallyVotes({1}, {{1, true}}), VoteResult::kWon);
  // Votes from non-voters do not count.
  EXPECT_EQ(TallyVotes({1, 2, 3}, {{1, true}, {9, true}}), VoteResult::kPending);
}

}  // namespace
}  // namespace pharos::raft
