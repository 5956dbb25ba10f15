// Leader election (Raft §5.2, §5.4.1; thesis §4.2.3 and §9.6).
#include <gtest/gtest.h>

#include <set>

#include "tests/raft/node_test_util.h"

namespace pharos::raft::testing {
namespace {

// Ticks node 1 of a fresh 3-node cluster, alone, until it starts a (pre-)campaign.
int TicksUntilCampaign(uint64_t seed) {
  RaftConfig c = TestConfig(1);
  c.seed = seed;
  LoneNode n = MakeLoneNode(1, {1, 2, 3}, c);
  for (int t = 1; t <= 1000; ++t) {
    n.node->Tick();
    if (n.node->role() != Role::kFollower) return t;
  }
  return -1;
}

TEST(ElectionTest, TimeoutIsDrawnUniformlyFromTheRange_5_2) {
  std::set<int> seen;
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    const int t = TicksUntilCampaign(seed);
    ASSERT_GE(t, 15) << "seed " << seed;  // [150 ms, 300 ms) at 10 ms ticks
    ASSERT_LT(t, 30) << "seed " << seed;
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 15u);  // every value of the range occurs
}

TEST(ElectionTest, TimeoutIsRedrawnOnEveryReset) {
  // Alone, node 1's pre-votes go unanswered and it times out again and again: the intervals
  // between its campaigns vary, each inside the range.
  LoneNode n = MakeLoneNode(1, {1, 2, 3});
  std::set<int> gaps;
  int since = 0;
  for (int t = 1; t <= 3000; ++t) {
    n.node->Tick();
    ++since;
    if (Find(n.Drain(), raftpb::MSG_PRE_VOTE) != nullptr) {
      gaps.insert(since);
      since = 0;
    }
  }
  EXPECT_GT(gaps.size(), 5u);
  for (int g : gaps) {
    EXPECT_GE(g, 15);
    EXPECT_LT(g, 30);
  }
}

TEST(ElectionTest, ALeaderIsElectedAndHeartbeatsEveryHeartbeatTick) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  ASSERT_NE(leader, 0u);
  int heartbeats = 0;
  net.Observe([&](const raftpb::Message& m) {
    if (m.type() == raftpb::MSG_HEARTBEAT) ++heartbeats;
  });
  net.Tick(leader, 50);
  EXPECT_EQ(heartbeats, 2 * 50 / 5);  // to each of two followers every 5 ticks
  for (uint64_t id : {1, 2, 3}) EXPECT_EQ(net.node(id).lead(), leader);
}

TEST(ElectionTest, OneVotePerTermFirstComeFirstServed_5_2) {
  LoneNode n = MakeLoneNode(3, {1, 2, 3});
  raftpb::Message v1 = Msg(raftpb::MSG_VOTE, 1, 3, 5);
  v1.set_index(3);
  v1.set_log_term(1);
  ASSERT_TRUE(n.node->Step(v1).ok());
  auto out = n.Drain();
  const raftpb::Message* r1 = Find(out, raftpb::MSG_VOTE_RESP);
  ASSERT_NE(r1, nullptr);
  EXPECT_FALSE(r1->reject());
  EXPECT_EQ(n.storage->hard_state().vote(), 1u);  // persisted with the grant
  raftpb::Message v2 = v1;
  v2.set_from(2);
  ASSERT_TRUE(n.node->Step(v2).ok());
  out = n.Drain();
  const raftpb::Message* r2 = Find(out, raftpb::MSG_VOTE_RESP);
  ASSERT_NE(r2, nullptr);
  EXPECT_TRUE(r2->reject());
  // The same candidate asking again (a retransmission) is granted again.
  ASSERT_TRUE(n.node->Step(v1).ok());
  EXPECT_FALSE(Find(n.Drain(), raftpb::MSG_VOTE_RESP)->reject());
}

TEST(ElectionTest, VotesGoOnlyToCandidatesAtLeastAsUpToDate_5_4_1) {
  struct Case {
    uint64_t last_index, last_term;
    bool granted;
  } cases[] = {
      {1, 3, true},    // higher last term wins, however short
      {5, 2, true},    // equal term, equal index
      {9, 2, true},    // equal term, longer
      {4, 2, false},   // equal term, shorter: the voter is more up to date
      {99, 1, false},  // lower last term loses, however long
  };
  for (const Case& c : cases) {
    LoneNode n = MakeLoneNode(3, {1, 2, 3});
    // The voter's log: bootstrap 1..3 @1, then 4..5 @2.
    raftpb::Message app = Msg(raftpb::MSG_APP, 1, 3, 2);
    app.set_index(3);
    app.set_log_term(1);
    *app.add_entries() = Ent(4, 2);
    *app.add_entries() = Ent(5, 2);
    ASSERT_TRUE(n.node->Step(app).ok());
    n.Drain();
    raftpb::Message v = Msg(raftpb::MSG_VOTE, 2, 3, 7);
    v.set_index(c.last_index);
    v.set_log_term(c.last_term);
    v.set_transfer(true);  // past the vote guard: this test is about logs
    ASSERT_TRUE(n.node->Step(v).ok());
    const raftpb::Message* r = Find(n.Drain(), raftpb::MSG_VOTE_RESP);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(!r->reject(), c.granted) << c.last_index << "@" << c.last_term;
  }
}

TEST(ElectionTest, PreVoteKeepsAPartitionedNodeFromRaisingItsTerm_9_6) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t term = net.node(leader).term();
  const uint64_t other = leader == 3 ? 2 : 3;
  net.Isolate(other);
  net.TickAll(300);  // ten election timeouts and more
  EXPECT_EQ(net.node(other).term(), term);
  net.Heal();
  net.TickAll(50);
  EXPECT_EQ(net.Leader(), leader);  // not deposed on rejoin
  EXPECT_EQ(net.node(leader).term(), term);
}

TEST(ElectionTest, LeaderThatCannotHearAQuorumStepsDown_CheckQuorum) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  net.Isolate(leader);
  net.Tick(leader, 2 * 15);  // two checks of election_tick_min ticks
  EXPECT_EQ(net.node(leader).role(), Role::kFollower);
}

TEST(ElectionTest, FollowerThatHeardFromTheLeaderIgnoresCampaigns_4_2_3) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t follower = leader == 1 ? 2 : 1;
  const uint64_t term = net.node(follower).term();
  for (auto type : {raftpb::MSG_PRE_VOTE, raftpb::MSG_VOTE}) {
    raftpb::Message v = Msg(type, 3, follower, term + 5);
    v.set_index(1000);
    v.set_log_term(term + 5);
    ASSERT_TRUE(net.node(follower).Step(v).ok());
    EXPECT_EQ(net.node(follower).term(), term) << "term moved on a " << type;
  }
  // A transfer's campaign passes the guard.
  raftpb::Message t = Msg(raftpb::MSG_VOTE, 3, follower, term + 5);
  t.set_index(1000);
  t.set_log_term(term + 5);
  t.set_transfer(true);
  ASSERT_TRUE(net.node(follower).Step(t).ok());
  EXPECT_EQ(net.node(follower).term(), term + 5);
}

// The leader is the live leader the guard stands for, at every tick of its check-quorum round.
// With the followers' one tick of slack applied to it too, it granted a pre-vote and stepped down
// for a vote in the last tick of every round: a node cut off from the leader's heartbeats alone
// could depose it.
TEST(ElectionTest, TheLeaderIgnoresCampaignsAtEveryTickOfItsRound) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  ASSERT_NE(leader, 0u);
  const uint64_t candidate = leader == 3 ? 2 : 3;
  bool granted = false;
  net.Observe([&](const raftpb::Message& m) {
    if (m.from() == leader && m.type() == raftpb::MSG_PRE_VOTE_RESP && !m.reject()) granted = true;
  });
  Node& n = net.node(leader);
  const uint64_t term = n.term();
  for (int tick = 0; tick < 2 * 15; ++tick) {
    net.Tick(leader);
    for (auto type : {raftpb::MSG_PRE_VOTE, raftpb::MSG_VOTE}) {
      // As up to date as the leader: only the guard stands in the way.
      raftpb::Message v = Msg(type, candidate, leader, term + 1);
      v.set_index(n.log().LastIndex());
      v.set_log_term(n.log().LastTerm());
      ASSERT_TRUE(n.Step(v).ok());
      net.Settle();
      ASSERT_EQ(n.role(), Role::kLeader) << "stepped down for a " << type << " at tick " << tick;
      ASSERT_EQ(n.term(), term) << "term moved on a " << type << " at tick " << tick;
    }
    ASSERT_FALSE(granted) << "granted a pre-vote at tick " << tick;
  }
}

TEST(ElectionTest, LearnersAndRemovedMembersDoNotCampaign) {
  LoneNode n = MakeLoneNode(9, {1, 2, 3});  // not a member
  for (int i = 0; i < 200; ++i) n.node->Tick();
  EXPECT_EQ(n.node->role(), Role::kFollower);
  EXPECT_FALSE(n.node->Campaign().ok());
}

}  // namespace
}  // namespace pharos::raft::testing
