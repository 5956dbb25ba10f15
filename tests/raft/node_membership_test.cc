// Membership changes, one server at a time (thesis §4.1–4.2).
#include <gtest/gtest.h>

#include "raft/membership.h"
#include "tests/raft/node_test_util.h"

namespace pharos::raft::testing {
namespace {

raftpb::ConfChange Change(raftpb::ConfChangeType type, uint64_t id) {
  raftpb::ConfChange cc;
  cc.set_type(type);
  cc.set_node_id(id);
  return cc;
}

TEST(MembershipNodeTest, LearnerReceivesTheLogButNeitherVotesNorCounts_4_2_1) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  net.AddEmptyNode(4);
  ASSERT_TRUE(net.node(leader).ProposeConfChange(Change(raftpb::CONF_ADD_LEARNER, 4)).ok());
  net.Settle();
  net.Tick(leader, 5);
  EXPECT_TRUE(IsLearner(net.node(leader).conf_state(), 4));
  EXPECT_EQ(net.node(4).log().LastIndex(), net.node(leader).log().LastIndex());
  // With the two other voters gone, the learner's acknowledgement makes no quorum.
  for (uint64_t id : {1, 2, 3}) {
    if (id != leader) net.Stop(id);
  }
  ASSERT_TRUE(net.node(leader).Propose("x").ok());
  net.Settle();
  EXPECT_EQ(net.node(4).log().LastIndex(), net.node(leader).log().LastIndex());
  EXPECT_LT(net.node(leader).log().committed(), net.node(leader).log().LastIndex());
  // And it never campaigns.
  net.Tick(4, 300);
  EXPECT_NE(net.node(4).role(), Role::kLeader);
  EXPECT_EQ(net.node(4).term(), net.node(leader).term());
}

TEST(MembershipNodeTest, PromotionWaitsUntilTheLearnerHasCaughtUp) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  net.AddEmptyNode(4);
  ASSERT_TRUE(net.node(leader).ProposeConfChange(Change(raftpb::CONF_ADD_LEARNER, 4)).ok());
  net.Settle();
  net.Stop(4);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(net.node(leader).Propose("x").ok());
  net.Settle();
  Status refused = net.node(leader).ProposeConfChange(Change(raftpb::CONF_PROMOTE_LEARNER, 4));
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused.ToString();
  ASSERT_TRUE(net.Restart(4).ok());
  net.Tick(leader, 5);
  ASSERT_TRUE(net.node(leader).ProposeConfChange(Change(raftpb::CONF_PROMOTE_LEARNER, 4)).ok());
  net.Settle();
  EXPECT_TRUE(IsVoter(net.node(leader).conf_state(), 4));
  EXPECT_TRUE(IsVoter(net.node(4).conf_state(), 4));
}

TEST(MembershipNodeTest, OneChangeAtATime) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  net.AddEmptyNode(4);
  net.AddEmptyNode(5);
  ASSERT_TRUE(net.node(leader).ProposeConfChange(Change(raftpb::CONF_ADD_LEARNER, 4)).ok());
  // The first change has not committed yet.
  EXPECT_EQ(net.node(leader).ProposeConfChange(Change(raftpb::CONF_ADD_LEARNER, 5)).code(),
            StatusCode::kFailedPrecondition);
  net.Settle();
  EXPECT_TRUE(net.node(leader).ProposeConfChange(Change(raftpb::CONF_ADD_LEARNER, 5)).ok());
}

TEST(MembershipNodeTest, NoChangeBeforeAnEntryOfTheLeadersTermCommits) {
  LoneNode n = MakeLoneNode(1, {1});
  ASSERT_TRUE(n.node->Campaign().ok());
  ASSERT_EQ(n.node->role(), Role::kLeader);  // its no-op is not committed yet
  EXPECT_EQ(n.node->ProposeConfChange(Change(raftpb::CONF_ADD_LEARNER, 2)).code(),
            StatusCode::kUnavailable);
  n.Drain();
  EXPECT_TRUE(n.node->ProposeConfChange(Change(raftpb::CONF_ADD_LEARNER, 2)).ok());
}

TEST(MembershipNodeTest, RemovedLeaderStepsDownOnceTheRemovalCommits_4_2_2) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  ASSERT_TRUE(net.node(leader).ProposeConfChange(Change(raftpb::CONF_REMOVE_NODE, leader)).ok());
  net.Settle();
  EXPECT_NE(net.node(leader).role(), Role::kLeader);
  EXPECT_FALSE(IsVoter(net.node(leader).conf_state(), leader));
  uint64_t next = 0;
  for (int i = 0; i < 200 && (next == 0 || next == leader); ++i) {
    net.TickAll();
    next = net.Leader();
  }
  ASSERT_NE(next, 0u);
  ASSERT_NE(next, leader);
  ASSERT_TRUE(net.node(next).Propose("after").ok());
  net.Settle();
  EXPECT_EQ(net.node(next).log().committed(), net.node(next).log().LastIndex());
}

TEST(MembershipNodeTest, RemovedMembersDataRefusesToStartAndIdsAreNotReused) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t gone = leader == 3 ? 2 : 3;
  ASSERT_TRUE(net.node(leader).ProposeConfChange(Change(raftpb::CONF_REMOVE_NODE, gone)).ok());
  net.Settle();
  net.Tick(leader, 5);
  auto restarted = Node::Create(TestConfig(gone), &net.storage(gone));
  EXPECT_EQ(restarted.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(net.node(leader).ProposeConfChange(Change(raftpb::CONF_ADD_LEARNER, gone)).code(),
            StatusCode::kInvalidArgument);
}

// pharosd writes a commit index that advanced alone only with the next entries (RaftDriver), and
// a removed member hears of nothing after its removal's commit: the applied index tells it.
TEST(MembershipNodeTest, ARemovalKnownOnlyAsAppliedStillRefusesToStart) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t gone = leader == 3 ? 2 : 3;
  ASSERT_TRUE(net.node(leader).ProposeConfChange(Change(raftpb::CONF_REMOVE_NODE, gone)).ok());
  net.Settle();
  MemoryStorage& storage = net.storage(gone);
  uint64_t removal = 0;
  auto entries = storage.Entries(storage.FirstIndex(), storage.LastIndex() + 1, UINT64_MAX);
  ASSERT_TRUE(entries.ok());
  for (const raftpb::Entry& e : *entries) {
    if (e.type() == raftpb::ENTRY_CONF_CHANGE) removal = e.index();
  }
  ASSERT_NE(removal, 0u);
  raftpb::HardState hs = storage.hard_state();
  hs.set_commit(removal - 1);
  hs.set_removed(false);  // under test: the applied index alone, not a peer's word (MSG_REMOVED)
  storage.SetHardState(hs);

  RaftConfig before = TestConfig(gone);
  before.applied = removal - 1;
  EXPECT_TRUE(Node::Create(before, &storage).ok()) << "not committed as far as it knows";
  RaftConfig after = TestConfig(gone);
  after.applied = removal;
  EXPECT_EQ(Node::Create(after, &storage).status().code(), StatusCode::kFailedPrecondition);
}

// A member cut off while its removal committed never finds the removal in its own log, and the
// leader stops sending to it once the removal commits. Its peers tell it when it next speaks (a
// campaign), and it stops for good. Before, it campaigned for ever and restarted as a member.
TEST(MembershipNodeTest, AMemberThatMissedItsRemovalIsToldWhenItNextSpeaks) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t gone = leader == 3 ? 2 : 3;
  net.Isolate(gone);
  ASSERT_TRUE(net.node(leader).ProposeConfChange(Change(raftpb::CONF_REMOVE_NODE, gone)).ok());
  net.Settle();
  ASSERT_TRUE(WasRemoved(net.node(leader).ConfStateAt(net.node(leader).log().committed()), gone));
  ASSERT_TRUE(IsVoter(net.node(gone).conf_state(), gone)) << "it heard of its removal";
  const uint64_t term = net.node(leader).term();
  net.Heal();

  std::vector<raftpb::Message> from_gone;
  net.Observe([&](const raftpb::Message& m) {
    if (m.from() == gone) from_gone.push_back(m);
  });
  for (int i = 0; i < 200 && !net.node(gone).removed(); ++i) {
    net.Tick(gone);
    net.Settle();
  }
  ASSERT_TRUE(net.node(gone).removed()) << "never told";
  // Its campaign moved nobody: the leader leads on, in its term.
  EXPECT_EQ(net.Leader(), leader);
  EXPECT_EQ(net.node(leader).term(), term);
  // Durable at once, and its data refuses to start.
  EXPECT_TRUE(net.storage(gone).hard_state().removed());
  EXPECT_EQ(Node::Create(TestConfig(gone), &net.storage(gone)).status().code(),
            StatusCode::kFailedPrecondition);
  // It is silent from then on, however long it waits.
  from_gone.clear();
  net.Tick(gone, 100);
  net.Settle();
  EXPECT_TRUE(from_gone.empty()) << from_gone.size() << " messages after it was told";
}

// Cut off after it appended its own removal but before it heard of the commit: no longer a voter
// by its own log, it cannot campaign, and nobody sends it anything once the removal commits. It
// asks instead, and is told.
TEST(MembershipNodeTest, AMemberHoldingItsRemovalButNotItsCommitAsksAndIsTold) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t gone = leader == 3 ? 2 : 3;
  const uint64_t removal = net.node(leader).log().LastIndex() + 1;
  // It gets the entry, not the news that it committed; and nothing it says gets through, so the
  // leader hears nothing from it after the commit either.
  net.Filter([&](raftpb::Message& m) {
    if (m.from() == gone) return false;
    return !(m.to() == gone && m.commit() >= removal);
  });
  ASSERT_TRUE(net.node(leader).ProposeConfChange(Change(raftpb::CONF_REMOVE_NODE, gone)).ok());
  net.Settle();
  ASSERT_TRUE(WasRemoved(net.node(leader).ConfStateAt(net.node(leader).log().committed()), gone));
  ASSERT_GE(net.node(gone).log().LastIndex(), removal);
  ASSERT_LT(net.node(gone).log().committed(), removal);
  ASSERT_FALSE(IsVoter(net.node(gone).conf_state(), gone)) << "it holds its removal";
  ASSERT_FALSE(net.node(gone).removed());
  const uint64_t term = net.node(leader).term();
  net.Filter([](raftpb::Message&) { return true; });

  for (int i = 0; i < 200 && !net.node(gone).removed(); ++i) {
    net.Tick(gone);
    net.Settle();
  }
  EXPECT_TRUE(net.node(gone).removed()) << "never told";
  EXPECT_EQ(net.Leader(), leader);
  EXPECT_EQ(net.node(leader).term(), term);
}

// A removed member's address may since serve another member: an answer meant for the old one
// (MSG_REMOVED to its id) must not end the new one.
TEST(MembershipNodeTest, AnAnswerThatNamesAnotherMemberIsNotTaken) {
  LoneNode n = MakeLoneNode(1, {1, 2, 3});
  ASSERT_TRUE(n.node->Step(Msg(raftpb::MSG_REMOVED, 2, 4, 1)).ok());
  EXPECT_FALSE(n.node->removed());
  ASSERT_TRUE(n.node->Step(Msg(raftpb::MSG_REMOVED, 2, 1, 1)).ok());
  EXPECT_TRUE(n.node->removed());
}

TEST(MembershipNodeTest, TruncatedConfigurationEntryRollsBack) {
  LoneNode n = MakeLoneNode(2, {1, 2, 3});
  raftpb::Message app = Msg(raftpb::MSG_APP, 1, 2, 2);
  app.set_index(3);
  app.set_log_term(1);
  raftpb::Entry conf = Ent(4, 2, Change(raftpb::CONF_ADD_LEARNER, 9).SerializeAsString());
  conf.set_type(raftpb::ENTRY_CONF_CHANGE);
  *app.add_entries() = conf;
  ASSERT_TRUE(n.node->Step(app).ok());
  n.Drain();
  EXPECT_TRUE(IsLearner(n.node->conf_state(), 9));  // in force once appended
  // A new leader of term 3 never had it: index 4 is overwritten, the configuration rolls back.
  raftpb::Message fresh = Msg(raftpb::MSG_APP, 3, 2, 3);
  fresh.set_index(3);
  fresh.set_log_term(1);
  *fresh.add_entries() = Ent(4, 3);
  ASSERT_TRUE(n.node->Step(fresh).ok());
  n.Drain();
  EXPECT_FALSE(IsLearner(n.node->conf_state(), 9));
}

}  // namespace
}  // namespace pharos::raft::testing
