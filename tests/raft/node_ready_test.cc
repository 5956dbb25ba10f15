// The Ready/Advance contract (raft/ready.h; thesis §10.2.1 for the leader's own fsync).
#include <gtest/gtest.h>

#include "tests/raft/node_test_util.h"

namespace pharos::raft::testing {
namespace {

bool Contains(const std::vector<raftpb::Message>& msgs, raftpb::MessageType type) {
  return Find(msgs, type) != nullptr;
}

TEST(ReadyTest, VoteGrantsLeaveOnlyAfterTheVoteIsPersisted) {
  LoneNode n = MakeLoneNode(3, {1, 2, 3});
  raftpb::Message v = Msg(raftpb::MSG_VOTE, 1, 3, 5);
  v.set_index(3);
  v.set_log_term(1);
  ASSERT_TRUE(n.node->Step(v).ok());
  Ready rd = n.node->GetReady();
  EXPECT_FALSE(Contains(rd.messages, raftpb::MSG_VOTE_RESP));
  EXPECT_TRUE(Contains(rd.messages_after_persist, raftpb::MSG_VOTE_RESP));
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->vote(), 1u);
  EXPECT_EQ(rd.hard_state->term(), 5u);
  EXPECT_TRUE(rd.must_sync);
}

TEST(ReadyTest, AcknowledgementsLeaveOnlyAfterTheEntriesArePersisted) {
  LoneNode n = MakeLoneNode(2, {1, 2, 3});
  raftpb::Message app = Msg(raftpb::MSG_APP, 1, 2, 2);
  app.set_index(3);
  app.set_log_term(1);
  *app.add_entries() = Ent(4, 2);
  ASSERT_TRUE(n.node->Step(app).ok());
  Ready rd = n.node->GetReady();
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_FALSE(Contains(rd.messages, raftpb::MSG_APP_RESP));
  EXPECT_TRUE(Contains(rd.messages_after_persist, raftpb::MSG_APP_RESP));
}

TEST(ReadyTest, LeaderReplicatesBeforeItsOwnFsyncButCountsItselfOnlyAfter_10_2_1) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t f = leader == 1 ? 2 : 1;
  Node& l = net.node(leader);
  ASSERT_TRUE(l.Propose("x").ok());
  Ready rd = l.GetReady();
  ASSERT_EQ(rd.entries.size(), 1u);
  const uint64_t index = rd.entries[0].index();
  // The AppendEntries may leave now, in parallel with the leader's own write.
  const raftpb::Message* app = nullptr;
  for (const auto& m : rd.messages) {
    if (m.type() == raftpb::MSG_APP && m.to() == f) app = &m;
  }
  ASSERT_NE(app, nullptr);
  // One follower acknowledges: with the leader's write not yet durable, that is not a quorum.
  ASSERT_TRUE(net.node(f).Step(*app).ok());
  Ready frd = net.node(f).GetReady();
  ASSERT_TRUE(net.storage(f).Append(frd.entries).ok());
  if (frd.hard_state) net.storage(f).SetHardState(*frd.hard_state);
  const raftpb::Message* ack = Find(frd.messages_after_persist, raftpb::MSG_APP_RESP);
  ASSERT_NE(ack, nullptr);
  net.node(f).Advance();
  ASSERT_TRUE(l.Step(*ack).ok());
  EXPECT_LT(l.log().committed(), index);
  // Now the leader's own write is durable: it counts itself, and the entry commits.
  ASSERT_TRUE(net.storage(leader).Append(rd.entries).ok());
  l.Advance();
  EXPECT_EQ(l.log().committed(), index);
}

TEST(ReadyTest, SingleNodeCommitsOnlyAfterAdvance) {
  LoneNode n = MakeLoneNode(1, {1});
  ASSERT_TRUE(n.node->Campaign().ok());
  n.Drain();
  ASSERT_EQ(n.node->role(), Role::kLeader);
  ASSERT_TRUE(n.node->Propose("x").ok());
  const uint64_t index = n.node->log().LastIndex();
  Ready rd = n.node->GetReady();
  EXPECT_LT(n.node->log().committed(), index);
  ASSERT_TRUE(n.storage->Append(rd.entries).ok());
  n.node->Advance();
  EXPECT_EQ(n.node->log().committed(), index);
  // The next Ready hands the entry out for applying.
  Ready next = n.node->GetReady();
  ASSERT_FALSE(next.committed_entries.empty());
  EXPECT_EQ(next.committed_entries.back().data(), "x");
}

TEST(ReadyTest, NoNewReadyUntilAdvance) {
  LoneNode n = MakeLoneNode(1, {1});
  ASSERT_TRUE(n.node->Campaign().ok());
  ASSERT_TRUE(n.node->HasReady());
  Ready rd = n.node->GetReady();
  ASSERT_TRUE(n.node->Propose("x").ok());
  EXPECT_FALSE(n.node->HasReady());
  EXPECT_THROW(n.node->GetReady(), std::logic_error);
  (void)n.storage->Append(rd.entries);
  if (rd.hard_state) n.storage->SetHardState(*rd.hard_state);
  n.node->Advance();
  EXPECT_TRUE(n.node->HasReady());
}

}  // namespace
}  // namespace pharos::raft::testing
