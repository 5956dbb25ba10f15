// The Ready/Advance contract (raft/ready.h; thesis §10.2.1 for the leader's own fsync).
#include <gtest/gtest.h>

#include <optional>

#include "tests/raft/node_test_util.h"

namespace pharos::raft::testing {
namespace {

bool Contains(const std::vector<raftpb::Message>& msgs, raftpb::MessageType type) {
  return Find(msgs, type) != nullptr;
}

// Follower `f` receives the leader's AppendEntries from `leader_ready`, persists it and
// returns its acknowledgement (what the leader would receive next).
std::optional<raftpb::Message> PersistAndAck(TestNetwork& net, uint64_t f,
                                             const Ready& leader_ready) {
  const raftpb::Message* app = nullptr;
  for (const auto& m : leader_ready.messages) {
    if (m.type() == raftpb::MSG_APP && m.to() == f) app = &m;
  }
  if (app == nullptr || !net.node(f).Step(*app).ok()) return std::nullopt;
  Ready frd = net.node(f).GetReady();
  if (!net.storage(f).Append(frd.entries).ok()) return std::nullopt;
  if (frd.hard_state) net.storage(f).SetHardState(*frd.hard_state);
  const raftpb::Message* ack = Find(frd.messages_after_persist, raftpb::MSG_APP_RESP);
  if (ack == nullptr) return std::nullopt;
  raftpb::Message out = *ack;
  net.node(f).Advance();
  return out;
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
  // The AppendEntries may leave now, in parallel with the leader's own write. One follower
  // acknowledges: with the leader's write not yet durable, that is not a quorum.
  const std::optional<raftpb::Message> ack = PersistAndAck(net, f, rd);
  ASSERT_TRUE(ack.has_value());
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

TEST(ReadyTest, CommittedEntriesAreHandedOutOnlyOnceDurableHere) {
  // The leader's commit index covers the very entries it sends: applying them before this
  // member's write is durable could leave its state machine ahead of its log after a crash.
  LoneNode n = MakeLoneNode(2, {1, 2, 3});
  raftpb::Message app = Msg(raftpb::MSG_APP, 1, 2, 2);
  app.set_index(3);
  app.set_log_term(1);
  app.set_commit(4);
  *app.add_entries() = Ent(4, 2);
  ASSERT_TRUE(n.node->Step(app).ok());
  EXPECT_EQ(n.node->log().committed(), 4u);
  Ready rd = n.node->GetReady();
  ASSERT_EQ(rd.entries.size(), 1u);
  // The bootstrap entries (1-3) are durable and go out; entry 4 is not yet.
  for (const auto& e : rd.committed_entries) EXPECT_LT(e.index(), 4u);
  EXPECT_TRUE(n.node->TakeCommittedEntries().empty());
  ASSERT_TRUE(n.storage->Append(rd.entries).ok());
  n.node->Advance();
  Ready next = n.node->GetReady();
  ASSERT_EQ(next.committed_entries.size(), 1u);
  EXPECT_EQ(next.committed_entries[0].index(), 4u);
}

TEST(ReadyTest, EntriesCommittedWhileAWriteIsInFlightCanBeTakenAtOnce) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t f = leader == 1 ? 2 : 1;
  Node& l = net.node(leader);
  // x is durable on the leader; y's write is in flight when a follower acknowledges x.
  ASSERT_TRUE(l.Propose("x").ok());
  Ready rd1 = l.GetReady();
  ASSERT_EQ(rd1.entries.size(), 1u);
  const uint64_t x = rd1.entries[0].index();
  ASSERT_TRUE(net.storage(leader).Append(rd1.entries).ok());
  l.Advance();
  ASSERT_TRUE(l.Propose("y").ok());
  Ready rd2 = l.GetReady();
  ASSERT_EQ(rd2.entries.size(), 1u);
  EXPECT_TRUE(rd2.committed_entries.empty());
  const std::optional<raftpb::Message> ack = PersistAndAck(net, f, rd1);
  ASSERT_TRUE(ack.has_value());
  ASSERT_TRUE(l.Step(*ack).ok());
  ASSERT_EQ(l.log().committed(), x);
  EXPECT_FALSE(l.HasReady());  // rd2 is still outstanding
  std::vector<raftpb::Entry> taken = l.TakeCommittedEntries();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].index(), x);
  EXPECT_EQ(taken[0].data(), "x");
  EXPECT_TRUE(l.TakeCommittedEntries().empty());  // handed out once
  ASSERT_TRUE(net.storage(leader).Append(rd2.entries).ok());
  l.Advance();
  // Nothing handed out twice: the next Ready carries y's commit, not x again.
  while (l.HasReady()) {
    Ready rd = l.GetReady();
    for (const auto& e : rd.committed_entries) EXPECT_GT(e.index(), x);
    ASSERT_TRUE(net.storage(leader).Append(rd.entries).ok());
    if (rd.hard_state) net.storage(leader).SetHardState(*rd.hard_state);
    l.Advance();
  }
}

TEST(ReadyTest, RestartWithAppliedPastTheDurableCommitIndexTakesItAsCommitted) {
  // Entries are applied in parallel with the write of the commit index that covers them: a
  // crash between the two leaves the state machine ahead of the durable commit index.
  auto storage = MemoryStorage::Bootstrap({1, 2, 3});
  const uint64_t durable_commit = storage->LastIndex();
  ASSERT_TRUE(storage->Append({Ent(durable_commit + 1, 1), Ent(durable_commit + 2, 1)}).ok());
  RaftConfig config = TestConfig(1);
  config.applied = durable_commit + 2;
  auto node = Node::Create(config, storage.get());
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  EXPECT_EQ((*node)->log().committed(), durable_commit + 2);
  EXPECT_EQ((*node)->log().applied(), durable_commit + 2);
  ASSERT_TRUE((*node)->HasReady());
  Ready rd = (*node)->GetReady();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->commit(), durable_commit + 2);
  EXPECT_TRUE(rd.committed_entries.empty());
  // Beyond the log is corruption, not a crash window.
  config.applied = durable_commit + 3;
  auto bad = Node::Create(config, storage.get());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
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
