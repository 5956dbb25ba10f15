// Linearizable reads through ReadIndex (thesis §6.4).
#include <gtest/gtest.h>

#include "tests/raft/node_test_util.h"

namespace pharos::raft::testing {
namespace {

TEST(ReadIndexTest, LeaderAnswersOnlyAfterAHeartbeatRoundConfirmsIt_6_4) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  ASSERT_TRUE(net.node(leader).Propose("x").ok());
  net.Settle();
  net.Filter([](const raftpb::Message& m) { return m.type() != raftpb::MSG_HEARTBEAT_RESP; });
  net.node(leader).ReadIndex("r1");
  net.Settle();
  EXPECT_TRUE(net.read_states(leader).empty());  // no quorum has confirmed the leadership yet
  net.Filter(nullptr);
  net.Tick(leader, 5);  // the next heartbeat carries the pending context
  ASSERT_EQ(net.read_states(leader).size(), 1u);
  EXPECT_EQ(net.read_states(leader)[0].context, "r1");
  EXPECT_EQ(net.read_states(leader)[0].index, net.node(leader).log().committed());
}

TEST(ReadIndexTest, NotBeforeAnEntryOfTheLeadersTermCommits_6_4) {
  TestNetwork net({1, 2, 3});
  // Acknowledgements are lost: node 1 wins but its no-op cannot commit.
  net.Filter([](const raftpb::Message& m) { return m.type() != raftpb::MSG_APP_RESP; });
  (void)net.node(1).Campaign();
  net.Settle();
  ASSERT_EQ(net.Leader(), 1u);
  ASSERT_LT(net.node(1).log().committed(), net.node(1).log().LastIndex());
  net.node(1).ReadIndex("early");
  net.Tick(1, 5);
  EXPECT_TRUE(net.read_states(1).empty());
  net.Filter(nullptr);
  net.Tick(1, 5);
  net.Tick(1, 5);
  ASSERT_EQ(net.read_states(1).size(), 1u);
  EXPECT_EQ(net.read_states(1)[0].context, "early");
  EXPECT_GE(net.read_states(1)[0].index, net.node(1).log().LastIndex());
}

TEST(ReadIndexTest, FollowerReadGoesThroughTheLeader) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t follower = leader == 1 ? 2 : 1;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(net.node(leader).Propose("x").ok());
  net.Settle();
  net.node(follower).ReadIndex("f1");
  net.Settle();
  net.Tick(leader, 5);
  ASSERT_EQ(net.read_states(follower).size(), 1u);
  EXPECT_EQ(net.read_states(follower)[0].index, net.node(leader).log().committed());
  EXPECT_TRUE(net.read_states(leader).empty());
}

TEST(ReadIndexTest, PartitionedOldLeaderDoesNotAnswer) {
  TestNetwork net({1, 2, 3});
  const uint64_t old = net.ElectLeader();
  net.Isolate(old);
  uint64_t fresh = 0;
  for (int i = 0; i < 300 && (fresh == 0 || fresh == old); ++i) {
    for (uint64_t id : {1, 2, 3}) {
      if (id != old) net.Tick(id);
    }
    for (uint64_t id : {1, 2, 3}) {
      if (id != old && net.node(id).role() == Role::kLeader) fresh = id;
    }
  }
  ASSERT_NE(fresh, 0u);
  ASSERT_TRUE(net.node(fresh).Propose("newer").ok());
  net.Settle();
  net.node(old).ReadIndex("stale?");
  net.Tick(old, 40);
  EXPECT_TRUE(net.read_states(old).empty());
}

}  // namespace
}  // namespace pharos::raft::testing
