// Leadership transfer (thesis §3.10).
#include <gtest/gtest.h>

#include "tests/raft/node_test_util.h"

namespace pharos::raft::testing {
namespace {

TEST(TransferTest, UpToDateTargetTakesOverAtOnce_3_10) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t target = leader == 3 ? 2 : 3;
  const uint64_t term = net.node(leader).term();
  ASSERT_TRUE(net.node(leader).TransferLeader(target).ok());
  net.Settle();
  EXPECT_EQ(net.Leader(), target);
  EXPECT_EQ(net.node(target).term(), term + 1);  // one election, no pre-vote round
}

TEST(TransferTest, LaggingTargetCatchesUpFirst) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t target = leader == 3 ? 2 : 3;
  net.Filter([target](const raftpb::Message& m) {
    return !(m.type() == raftpb::MSG_APP && m.to() == target);
  });
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(net.node(leader).Propose("x").ok());
  net.Settle();
  ASSERT_LT(net.node(target).log().LastIndex(), net.node(leader).log().LastIndex());
  const uint64_t last = net.node(leader).log().LastIndex();
  net.Filter(nullptr);
  ASSERT_TRUE(net.node(leader).TransferLeader(target).ok());
  net.Tick(leader, 5);
  EXPECT_EQ(net.Leader(), target);
  EXPECT_GE(net.node(target).log().LastIndex(), last);
}

TEST(TransferTest, ProposalsWaitDuringTransferWhichAbortsAfterAnElectionTimeout) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t target = leader == 3 ? 2 : 3;
  net.Filter([](const raftpb::Message& m) { return m.type() != raftpb::MSG_TIMEOUT_NOW; });
  ASSERT_TRUE(net.node(leader).TransferLeader(target).ok());
  net.Settle();
  EXPECT_EQ(net.node(leader).lead_transferee(), target);
  EXPECT_EQ(net.node(leader).Propose("x").code(), StatusCode::kUnavailable);
  net.Tick(leader, 15);
  EXPECT_EQ(net.node(leader).lead_transferee(), 0u);
  EXPECT_EQ(net.Leader(), leader);
  EXPECT_TRUE(net.node(leader).Propose("x").ok());
}

TEST(TransferTest, FollowerForwardsTheRequestToTheLeader) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t follower = leader == 3 ? 2 : 3;
  ASSERT_TRUE(net.node(follower).TransferLeader(follower).ok());
  net.Settle();
  EXPECT_EQ(net.Leader(), follower);
}

// A request that reaches a follower (its sender's idea of the leader was stale) is passed on
// with its sender kept: a transfer's sender is its target. Stamped with the follower's id, as
// before, leadership went to the follower instead.
TEST(TransferTest, AForwardedRequestKeepsItsTarget) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  ASSERT_NE(leader, 0u);
  const uint64_t middle = leader == 1 ? 2 : 1;
  const uint64_t target = 6 - leader - middle;
  raftpb::Message m = Msg(raftpb::MSG_TRANSFER_LEADER, target, middle, 0);
  ASSERT_TRUE(net.node(middle).Step(m).ok());
  net.Settle();
  EXPECT_EQ(net.Leader(), target);
}

}  // namespace
}  // namespace pharos::raft::testing
