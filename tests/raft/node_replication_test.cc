// Log replication (Raft §5.3, §5.4.2, and etcd's pipelining/backtracking refinements).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tests/raft/node_test_util.h"

namespace pharos::raft::testing {
namespace {

TEST(ReplicationTest, NewLeaderAppendsANoOpOfItsTerm_8) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const RaftLog& log = net.node(leader).log();
  auto last = log.Slice(log.LastIndex(), log.LastIndex() + 1, UINT64_MAX);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ((*last)[0].term(), net.node(leader).term());
  EXPECT_TRUE((*last)[0].data().empty());
  EXPECT_EQ(log.committed(), log.LastIndex());  // and it commits
}

TEST(ReplicationTest, ProposalsReachEveryNodeInOrder_5_3) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(net.node(leader).Propose("w" + std::to_string(i)).ok());
  net.Settle();
  net.Tick(leader, 5);  // a heartbeat carries the final commit index to the followers
  for (uint64_t id : {1, 2, 3}) {
    ASSERT_EQ(net.applied(id).size(), 20u) << "node " << id;
    EXPECT_EQ(net.applied(id).front(), "w0");
    EXPECT_EQ(net.applied(id).back(), "w19");
  }
  EXPECT_FALSE(net.node(leader == 1 ? 2 : 1).Propose("x").ok());  // followers do not propose
}

TEST(ReplicationTest, ABatchOfProposalsGoesToEachFollowerInOneMessage) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  net.Settle();
  std::map<uint64_t, std::vector<int>> entries_per_message;
  net.Observe([&](const raftpb::Message& m) {
    if (m.type() == raftpb::MSG_APP && m.entries_size() > 0) {
      entries_per_message[m.to()].push_back(m.entries_size());
    }
  });
  ASSERT_TRUE(net.node(leader).ProposeBatch({"a", "b", "c"}).ok());
  net.Settle();
  net.Tick(leader, 5);  // a heartbeat carries the final commit index to the followers
  EXPECT_EQ(entries_per_message.size(), 2u);
  for (const auto& [to, sizes] : entries_per_message) {
    EXPECT_EQ(sizes, std::vector<int>{3}) << "to node " << to;
  }
  for (uint64_t id : {1, 2, 3}) {
    EXPECT_EQ(net.applied(id), (std::vector<std::string>{"a", "b", "c"})) << "node " << id;
  }
  // Refused whole where a single proposal would be.
  const uint64_t follower = leader == 1 ? 2 : 1;
  const uint64_t last = net.node(follower).log().LastIndex();
  EXPECT_EQ(net.node(follower).ProposeBatch({"x", "y"}).code(), StatusCode::kNotLeader);
  EXPECT_EQ(net.node(follower).log().LastIndex(), last);
}

TEST(ReplicationTest, StaleAppendEntriesTruncateNothing_5_3) {
  LoneNode n = MakeLoneNode(2, {1, 2, 3});
  raftpb::Message full = Msg(raftpb::MSG_APP, 1, 2, 2);
  full.set_index(3);
  full.set_log_term(1);
  for (uint64_t i = 4; i <= 6; ++i) *full.add_entries() = Ent(i, 2);
  ASSERT_TRUE(n.node->Step(full).ok());
  n.Drain();
  raftpb::Message stale = full;  // an older message of the same leader, arriving late
  stale.clear_entries();
  *stale.add_entries() = Ent(4, 2);
  ASSERT_TRUE(n.node->Step(stale).ok());
  auto out = n.Drain();
  EXPECT_EQ(n.node->log().LastIndex(), 6u);
  EXPECT_EQ(Find(out, raftpb::MSG_APP_RESP)->index(), 4u);  // acknowledges what it matched
}

TEST(ReplicationTest, ConflictingSuffixIsReplaced_5_3) {
  LoneNode n = MakeLoneNode(2, {1, 2, 3});
  raftpb::Message old = Msg(raftpb::MSG_APP, 1, 2, 2);
  old.set_index(3);
  old.set_log_term(1);
  for (uint64_t i = 4; i <= 7; ++i) *old.add_entries() = Ent(i, 2);
  ASSERT_TRUE(n.node->Step(old).ok());
  n.Drain();
  raftpb::Message fresh = Msg(raftpb::MSG_APP, 3, 2, 3);
  fresh.set_index(4);
  fresh.set_log_term(2);
  *fresh.add_entries() = Ent(5, 3);
  ASSERT_TRUE(n.node->Step(fresh).ok());
  n.Drain();
  EXPECT_EQ(n.node->log().LastIndex(), 5u);
  EXPECT_EQ(*n.node->log().Term(5), 3u);
  EXPECT_EQ(*n.node->log().Term(4), 2u);
  EXPECT_EQ(n.storage->LastIndex(), 5u);  // persisted the same way
}

TEST(ReplicationTest, FollowerCommitIsBoundedByWhatTheMessageMatched) {
  LoneNode n = MakeLoneNode(2, {1, 2, 3});
  raftpb::Message app = Msg(raftpb::MSG_APP, 1, 2, 2);
  app.set_index(3);
  app.set_log_term(1);
  for (uint64_t i = 4; i <= 8; ++i) *app.add_entries() = Ent(i, 2);
  ASSERT_TRUE(n.node->Step(app).ok());
  n.Drain();
  // A heartbeat-like append matching only up to 5, from a leader whose commit is 8.
  raftpb::Message probe = Msg(raftpb::MSG_APP, 1, 2, 2);
  probe.set_index(5);
  probe.set_log_term(2);
  probe.set_commit(8);
  ASSERT_TRUE(n.node->Step(probe).ok());
  EXPECT_EQ(n.node->log().committed(), 5u);
}

TEST(ReplicationTest, FastBacktrackingSkipsAWholeDivergentTerm) {
  TestNetwork net({1, 2, 3});
  (void)net.node(1).Campaign();
  net.Settle();
  ASSERT_EQ(net.Leader(), 1u);
  // Node 1, cut off, takes 40 entries nobody else gets, then steps down.
  net.Isolate(1);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(net.node(1).Propose("lost").ok());
  net.Settle();
  net.Tick(1, 30);
  ASSERT_EQ(net.node(1).role(), Role::kFollower);
  uint64_t leader = 0;
  for (int i = 0; i < 200 && leader == 0; ++i) {
    net.Tick(2);
    net.Tick(3);
    leader = net.Leader();
  }
  ASSERT_TRUE(leader == 2 || leader == 3);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(net.node(leader).Propose("kept").ok());
  net.Settle();
  int rejects = 0;
  net.Observe([&](const raftpb::Message& m) {
    if (m.type() == raftpb::MSG_APP_RESP && m.reject()) ++rejects;
  });
  net.Heal();
  net.Tick(leader, 5);
  net.Tick(leader, 5);
  EXPECT_EQ(net.node(1).log().LastIndex(), net.node(leader).log().LastIndex());
  EXPECT_EQ(net.node(1).log().LastTerm(), net.node(leader).log().LastTerm());
  // One probe per divergent term, not one per entry.
  EXPECT_LE(rejects, 3);
  for (const std::string& d : net.applied(1)) EXPECT_NE(d, "lost");
}

TEST(ReplicationTest, PipelineIsBoundedByTheInflightWindow) {
  TestNetwork net({1, 2, 3}, [](RaftConfig& c) {
    c.max_inflight_msgs = 3;
    c.max_size_per_msg = 1;
  });
  const uint64_t leader = net.ElectLeader();
  const uint64_t follower = leader == 1 ? 2 : 1;
  int with_entries = 0;
  net.Observe([&](const raftpb::Message& m) {
    if (m.type() == raftpb::MSG_APP && m.to() == follower && m.entries_size() > 0) ++with_entries;
  });
  // The follower's acknowledgements are lost: the leader may not run ahead of its window.
  net.Filter([&](const raftpb::Message& m) {
    return !(m.type() == raftpb::MSG_APP_RESP && m.from() == follower);
  });
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(net.node(leader).Propose("x").ok());
  net.Settle();
  EXPECT_EQ(with_entries, 3);
  const Progress* pr = net.node(leader).progress(follower);
  ASSERT_NE(pr, nullptr);
  EXPECT_TRUE(pr->IsPaused());
}

// Read rounds confirm leadership by heartbeat, hundreds of times a second under load; only the
// heartbeat interval's own heartbeat may retry what a follower has not answered. Retried on every
// read's answer, a resumed follower was sent the same full-size probe hundreds of times a second
// and the leader's raft thread, busy re-reading its log for seconds, was deposed.
TEST(ReplicationTest, AnUnansweredProbeIsRetriedOncePerHeartbeatNotOncePerRead) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t follower = leader == 1 ? 2 : 1;
  net.Settle();
  net.Filter([&](const raftpb::Message& m) {
    return !(m.type() == raftpb::MSG_APP_RESP && m.from() == follower);
  });
  net.node(leader).ReportUnreachable(follower);  // replicate -> probe
  ASSERT_TRUE(net.node(leader).Propose("x").ok());
  net.Settle();
  ASSERT_EQ(net.node(leader).progress(follower)->state, Progress::State::kProbe);
  ASSERT_TRUE(net.node(leader).progress(follower)->IsPaused());

  int probes = 0;
  net.Observe([&](const raftpb::Message& m) {
    if (m.type() == raftpb::MSG_APP && m.to() == follower) ++probes;
  });
  for (int i = 0; i < 50; ++i) {
    net.node(leader).ReadIndex("read " + std::to_string(i));
    net.Settle();
  }
  ASSERT_EQ(net.read_states(leader).size(), 50u);  // the rounds were answered: heartbeats flowed
  EXPECT_EQ(probes, 0);
  net.Tick(leader, TestConfig(leader).heartbeat_tick);
  net.Settle();
  EXPECT_EQ(probes, 1);
}

// A follower that held every entry when it was reported unreachable (its connection dropped) is
// probed; the next heartbeat's answer brings it an empty append, and the answer to that, at the
// index already matched, puts it back to replicating (etcd-io/raft #52). Before, it stayed
// probing until the next write: one append at a time, each waiting for the last one's answer.
TEST(ReplicationTest, ACaughtUpFollowerReportedUnreachableReplicatesAgainAfterAHeartbeat) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t follower = leader == 1 ? 2 : 1;
  net.Settle();
  net.node(leader).ReportUnreachable(follower);
  net.Settle();
  ASSERT_EQ(net.node(leader).progress(follower)->state, Progress::State::kProbe);
  net.Tick(leader, TestConfig(leader).heartbeat_tick);
  net.Settle();
  EXPECT_EQ(net.node(leader).progress(follower)->state, Progress::State::kReplicate);

  // Replicating, the leader sends each new write at once, answered or not.
  int with_entries = 0;
  net.Observe([&](const raftpb::Message& m) {
    if (m.type() == raftpb::MSG_APP && m.to() == follower && m.entries_size() > 0) ++with_entries;
  });
  net.Filter([&](const raftpb::Message& m) {
    return !(m.type() == raftpb::MSG_APP_RESP && m.from() == follower);
  });
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(net.node(leader).Propose("x").ok());
    net.Settle();
  }
  EXPECT_EQ(with_entries, 3);
}

// A leader whose window to one follower is full: three messages of one entry each, whose
// acknowledgements are lost. `touch` sees the follower's other messages on their way.
class FullWindowToAFollower {
 public:
  explicit FullWindowToAFollower(std::function<void(raftpb::Message&)> touch = nullptr)
      : net_({1, 2, 3}, [](RaftConfig& c) {
          c.max_inflight_msgs = 3;
          c.max_size_per_msg = 1;
        }) {
    leader_ = net_.ElectLeader();
    follower_ = leader_ == 1 ? 2 : 1;
    net_.Settle();
    net_.Filter([this, touch](raftpb::Message& m) {
      if (m.from() != follower_) return true;
      if (m.type() == raftpb::MSG_APP_RESP) return false;
      if (touch) touch(m);
      return true;
    });
    net_.Observe([this](const raftpb::Message& m) {
      if (m.type() == raftpb::MSG_APP && m.to() == follower_ && m.entries_size() > 0) {
        ++with_entries_;
      }
    });
    for (int i = 0; i < 10; ++i) EXPECT_TRUE(net_.node(leader_).Propose("x").ok());
    net_.Settle();
  }
  TestNetwork& net() { return net_; }
  uint64_t leader() const { return leader_; }
  // Appends with entries sent to the follower so far.
  int with_entries() const { return with_entries_; }
  // The heartbeat interval passes on the leader.
  void Heartbeat() {
    net_.Tick(leader_, TestConfig(leader_).heartbeat_tick);
    net_.Settle();
  }

 private:
  TestNetwork net_;
  uint64_t leader_ = 0;
  uint64_t follower_ = 0;
  int with_entries_ = 0;
};

TEST(ReplicationTest, AFullWindowOpensBySlotPerHeartbeatNotPerRead) {
  FullWindowToAFollower w;
  ASSERT_EQ(w.with_entries(), 3);
  for (int i = 0; i < 5; ++i) {
    w.net().node(w.leader()).ReadIndex("read " + std::to_string(i));
    w.net().Settle();
  }
  ASSERT_EQ(w.net().read_states(w.leader()).size(), 5u);
  EXPECT_EQ(w.with_entries(), 3);
  w.Heartbeat();
  EXPECT_EQ(w.with_entries(), 4);
}

// A follower's disk is behind while it holds entries it has not made durable; its heartbeat
// answers say so, so that a leader opens no window slot for it (below).
TEST(ReplicationTest, AHeartbeatAnswerSaysWhetherTheFollowerHoldsEntriesNotYetDurable) {
  LoneNode n = MakeLoneNode(3, {1, 2, 3});
  // Term 2 and its leader, made durable first: nothing at a new term leaves before that.
  ASSERT_TRUE(n.node->Step(Msg(raftpb::MSG_HEARTBEAT, 1, 3, 2)).ok());
  n.Drain();
  const uint64_t last = n.node->log().LastIndex();
  raftpb::Message app = Msg(raftpb::MSG_APP, 1, 3, 2);
  app.set_index(last);
  app.set_log_term(*n.node->log().Term(last));
  *app.add_entries() = Ent(last + 1, 2);
  ASSERT_TRUE(n.node->Step(app).ok());
  // Not persisted yet: what may leave now holds the heartbeat's answer.
  ASSERT_TRUE(n.node->Step(Msg(raftpb::MSG_HEARTBEAT, 1, 3, 2)).ok());
  const auto before = n.node->TakeSendableMessages();
  const raftpb::Message* writing = Find(before, raftpb::MSG_HEARTBEAT_RESP);
  ASSERT_NE(writing, nullptr);
  EXPECT_TRUE(writing->log_write_pending());
  n.Drain();  // persisted
  ASSERT_TRUE(n.node->Step(Msg(raftpb::MSG_HEARTBEAT, 1, 3, 2)).ok());
  const auto after = n.Drain();
  const raftpb::Message* idle = Find(after, raftpb::MSG_HEARTBEAT_RESP);
  ASSERT_NE(idle, nullptr);
  EXPECT_FALSE(idle->log_write_pending());
}

// etcd's rule opens one slot of a full window per heartbeat answer, in case an acknowledgement was
// lost. A follower whose disk is behind keeps answering heartbeats (its raft thread never waits on
// its disk), and each slot opened was one more message it held in memory: a 60 s stall under
// load grew it by the whole write rate times 60 s. Its acknowledgements are coming; no slot opens.
TEST(ReplicationTest, AFullWindowStaysShutForAFollowerWhoseDiskIsBehind) {
  bool disk_behind = true;
  FullWindowToAFollower w([&](raftpb::Message& m) {
    if (m.type() == raftpb::MSG_HEARTBEAT_RESP) m.set_log_write_pending(disk_behind);
  });
  ASSERT_EQ(w.with_entries(), 3);
  for (int beat = 0; beat < 5; ++beat) w.Heartbeat();
  EXPECT_EQ(w.with_entries(), 3);
  // Its disk caught up, and still no acknowledgement: one may have been lost after all.
  disk_behind = false;
  w.Heartbeat();
  EXPECT_EQ(w.with_entries(), 4);
}

// A follower that just left probing has an empty window. Filled at once on the first
// acknowledgement, its whole backlog (up to the window's 32 MiB) was read from the log and
// encoded in one step of the leader's raft thread; a few appends go per acknowledgement instead,
// and the follower still catches up.
TEST(ReplicationTest, AnAcknowledgementSendsAFewAppendsNotTheWholeBacklog) {
  TestNetwork net({1, 2, 3}, [](RaftConfig& c) { c.max_size_per_msg = 1; });
  const uint64_t leader = net.ElectLeader();
  const uint64_t lagger = leader == 3 ? 2 : 3;
  net.Isolate(lagger);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(net.node(leader).Propose("x").ok());
  net.Settle();
  // One acknowledgement of the lagger's gets through: the one of the probe that finds its place.
  int acks_let_through = 1;
  net.Filter([&](const raftpb::Message& m) {
    if (m.type() != raftpb::MSG_APP_RESP || m.from() != lagger || m.reject()) return true;
    return acks_let_through > 0 && acks_let_through-- > 0;
  });
  int with_entries = 0;
  net.Observe([&](const raftpb::Message& m) {
    if (m.type() == raftpb::MSG_APP && m.to() == lagger && m.entries_size() > 0) ++with_entries;
  });
  net.Heal();
  net.Tick(leader, TestConfig(leader).heartbeat_tick);
  net.Settle();
  EXPECT_EQ(acks_let_through, 0);
  // The probe; then, for its acknowledgement, the append a follower that was paused gets at once
  // and eight to fill the window. Before, the whole backlog: 50.
  EXPECT_LE(with_entries, 1 + 1 + 8);
  // Every acknowledgement through again: the rest follows, a few per acknowledgement.
  acks_let_through = 1 << 20;
  for (int beat = 0; beat < 3; ++beat) net.Tick(leader, TestConfig(leader).heartbeat_tick);
  net.Settle();
  EXPECT_EQ(net.node(lagger).log().LastIndex(), net.node(leader).log().LastIndex());
}

TEST(ReplicationTest, MessagesRespectTheByteLimit) {
  for (uint64_t limit : {uint64_t{1}, uint64_t{1} << 20}) {
    TestNetwork net({1, 2, 3}, [limit](RaftConfig& c) { c.max_size_per_msg = limit; });
    const uint64_t leader = net.ElectLeader();
    const uint64_t lagger = leader == 3 ? 2 : 3;
    net.Isolate(lagger);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(net.node(leader).Propose(std::string(50, 'x')).ok());
    net.Settle();
    int largest = 0;
    net.Observe([&](const raftpb::Message& m) {
      if (m.type() == raftpb::MSG_APP) largest = std::max(largest, m.entries_size());
    });
    net.Heal();
    net.Tick(leader, 5);
    EXPECT_EQ(net.node(lagger).log().LastIndex(), net.node(leader).log().LastIndex());
    if (limit == 1) {
      EXPECT_EQ(largest, 1);
    } else {
      EXPECT_GE(largest, 10);
    }
  }
}

TEST(ReplicationTest, OnlyCurrentTermEntriesCommitByCountingReplicas_5_4_2_Figure8) {
  TestNetwork net({1, 2, 3}, [](RaftConfig& c) { c.max_size_per_msg = 1; });
  (void)net.node(1).Campaign();
  net.Settle();
  ASSERT_EQ(net.Leader(), 1u);
  // Term 2: an entry that reaches no one.
  net.Isolate(1);
  ASSERT_TRUE(net.node(1).Propose("old").ok());
  net.Settle();
  const uint64_t old_index = net.node(1).log().LastIndex();
  net.Tick(1, 30);  // steps down: cannot hear a quorum
  ASSERT_EQ(net.node(1).role(), Role::kFollower);
  net.Tick(2, 14);  // past the vote guard, short of their own timeouts
  net.Tick(3, 14);
  net.Heal();
  // Node 1 wins term 3 (its log is the longest) and appends its no-op after "old".
  ASSERT_TRUE(net.node(1).Campaign().ok());
  // Followers may receive "old" but not the no-op of term 3: the network strips it.
  const uint64_t term = net.node(1).term() + 1;
  net.Filter([term](raftpb::Message& m) {
    if (m.type() != raftpb::MSG_APP) return true;
    auto* entries = m.mutable_entries();
    for (int i = 0; i < entries->size(); ++i) {
      if (entries->Get(i).term() >= term) {
        entries->DeleteSubrange(i, entries->size() - i);
        break;
      }
    }
    return true;
  });
  net.Settle();
  ASSERT_EQ(net.Leader(), 1u);
  ASSERT_EQ(net.node(1).term(), term);
  const Progress* pr2 = net.node(1).progress(2);
  ASSERT_GE(pr2->match, old_index);                     // a majority (1 and 2) holds "old"...
  EXPECT_LT(net.node(1).log().committed(), old_index);  // ...yet it is not committed
  net.Filter(nullptr);
  net.Tick(1, 5);
  EXPECT_GT(net.node(1).log().committed(), old_index);  // the no-op commits, and "old" with it
}

// Empty appends the leader sent: those that only carry a commit index.
int CountCommitOnlyAppends(TestNetwork& net, std::function<void()> step) {
  int n = 0;
  net.Observe([&n](const raftpb::Message& m) {
    if (m.type() == raftpb::MSG_APP && m.entries_size() == 0) ++n;
  });
  step();
  net.Observe(nullptr);
  return n;
}

TEST(ReplicationTest, ACommitReachesTheFollowersAtOnceByDefault) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  net.Settle();
  const int sent = CountCommitOnlyAppends(net, [&] {
    ASSERT_TRUE(net.node(leader).Propose("a").ok());
    net.Settle();
  });
  EXPECT_EQ(sent, 2);
  for (uint64_t id : {1, 2, 3}) EXPECT_EQ(net.applied(id), std::vector<std::string>{"a"});
  EXPECT_FALSE(net.node(leader).commit_broadcast_pending());
}

TEST(ReplicationTest, ADeferredCommitRidesOnTheNextAppendOrLeavesWhenAskedTo) {
  TestNetwork net({1, 2, 3}, [](RaftConfig& c) { c.defer_commit_broadcast = true; });
  const uint64_t leader = net.ElectLeader();
  net.node(leader).SendDeferredCommit();  // the no-op's commit
  net.Settle();
  const std::vector<uint64_t> followers = leader == 1   ? std::vector<uint64_t>{2, 3}
                                          : leader == 2 ? std::vector<uint64_t>{1, 3}
                                                        : std::vector<uint64_t>{1, 2};
  // "a" commits at the leader; nothing goes out just to say so.
  int sent = CountCommitOnlyAppends(net, [&] {
    ASSERT_TRUE(net.node(leader).Propose("a").ok());
    net.Settle();
  });
  EXPECT_EQ(sent, 0);
  EXPECT_EQ(net.applied(leader), std::vector<std::string>{"a"});
  for (uint64_t id : followers) EXPECT_TRUE(net.applied(id).empty()) << "node " << id;
  EXPECT_TRUE(net.node(leader).commit_broadcast_pending());
  // The next proposal's appends carry it: every follower then has been sent the commit index,
  // so nothing is pending until that proposal commits in turn.
  sent = CountCommitOnlyAppends(net, [&] {
    ASSERT_TRUE(net.node(leader).Propose("b").ok());
    EXPECT_FALSE(net.node(leader).commit_broadcast_pending());
    net.Settle();
  });
  EXPECT_EQ(sent, 0);
  for (uint64_t id : followers) {
    EXPECT_EQ(net.applied(id), std::vector<std::string>{"a"}) << "node " << id;
  }
  EXPECT_TRUE(net.node(leader).commit_broadcast_pending());
  // Asked to, the leader sends it to each follower in an append of its own.
  sent = CountCommitOnlyAppends(net, [&] {
    net.node(leader).SendDeferredCommit();
    net.Settle();
  });
  EXPECT_EQ(sent, 2);
  EXPECT_FALSE(net.node(leader).commit_broadcast_pending());
  for (uint64_t id : {1, 2, 3}) {
    EXPECT_EQ(net.applied(id), (std::vector<std::string>{"a", "b"})) << "node " << id;
  }
  // Asked again with nothing new, it sends nothing.
  sent = CountCommitOnlyAppends(net, [&] {
    net.node(leader).SendDeferredCommit();
    net.Settle();
  });
  EXPECT_EQ(sent, 0);
}

TEST(ReplicationTest, ADeferredCommitStillReachesFollowersWithTheHeartbeat) {
  TestNetwork net({1, 2, 3}, [](RaftConfig& c) { c.defer_commit_broadcast = true; });
  const uint64_t leader = net.ElectLeader();
  ASSERT_TRUE(net.node(leader).Propose("a").ok());
  net.Settle();
  net.Tick(leader, 5);
  for (uint64_t id : {1, 2, 3}) EXPECT_EQ(net.applied(id), std::vector<std::string>{"a"});
}

// A follower the leader may not send to now (a probe is out to it and unanswered) gets the
// commit index when it answers; waiting for it would keep a broadcast pending all the while.
TEST(ReplicationTest, AFollowerThatMayNotBeSentToKeepsNoDeferredCommitPending) {
  TestNetwork net({1, 2, 3}, [](RaftConfig& c) { c.defer_commit_broadcast = true; });
  const uint64_t leader = net.ElectLeader();
  net.node(leader).SendDeferredCommit();
  net.Settle();
  const uint64_t down = leader == 3 ? 2 : 3;
  net.Stop(down);
  net.node(leader).ReportUnreachable(down);  // back to probing it
  ASSERT_TRUE(net.node(leader).Propose("a").ok());
  net.Settle();
  const Progress* pr = net.node(leader).progress(down);
  ASSERT_NE(pr, nullptr);
  ASSERT_TRUE(pr->IsPaused());
  EXPECT_TRUE(net.node(leader).commit_broadcast_pending());
  // The other follower is sent the commit index with "b": nothing is left pending.
  ASSERT_TRUE(net.node(leader).Propose("b").ok());
  EXPECT_FALSE(net.node(leader).commit_broadcast_pending());
}

TEST(ReplicationTest, FollowerForwardsInternalProposalsToTheLeader) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t follower = leader == 1 ? 2 : 1;
  ASSERT_TRUE(net.node(follower).ProposeOrForward("from-follower").ok());
  net.Settle();
  net.Tick(leader, 5);
  for (uint64_t id : {1, 2, 3}) {
    ASSERT_FALSE(net.applied(id).empty());
    EXPECT_EQ(net.applied(id).back(), "from-follower");
  }
}

}  // namespace
}  // namespace pharos::raft::testing
