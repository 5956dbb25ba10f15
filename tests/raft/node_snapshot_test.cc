// Snapshots and log compaction (Raft §7).
#include <gtest/gtest.h>

#include "tests/raft/node_test_util.h"

namespace pharos::raft::testing {
namespace {

TEST(SnapshotTest, FollowerBehindTheCompactedLogIsSentASnapshotAndResumes_7) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t lagger = leader == 3 ? 2 : 3;
  net.Stop(lagger);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(net.node(leader).Propose("w" + std::to_string(i)).ok());
  net.Settle();
  // The application snapshots at its applied index and compacts the log below it.
  const uint64_t applied = net.node(leader).log().applied();
  ASSERT_TRUE(net.storage(leader)
                  .CreateSnapshotAndCompact(applied, net.node(leader).conf_state(),
                                            "state@" + std::to_string(applied))
                  .ok());
  int snaps = 0;
  net.Observe([&](const raftpb::Message& m) {
    if (m.type() == raftpb::MSG_SNAP) {
      ++snaps;
      EXPECT_EQ(m.snapshot().metadata().index(), applied);
      EXPECT_EQ(m.snapshot().data(), "state@" + std::to_string(applied));
    }
  });
  ASSERT_TRUE(net.Restart(lagger).ok());
  net.Tick(leader, 5);  // heartbeat: the lagger answers, the leader finds it behind the log
  net.node(leader).ReportSnapshot(lagger, true);
  net.Tick(leader, 5);
  EXPECT_EQ(snaps, 1);
  EXPECT_EQ(net.storage(lagger).FirstIndex(), applied + 1);
  // It resumes ordinary replication after the snapshot.
  ASSERT_TRUE(net.node(leader).Propose("after").ok());
  net.Settle();
  net.Tick(leader, 5);
  EXPECT_EQ(net.node(lagger).log().LastIndex(), net.node(leader).log().LastIndex());
  ASSERT_FALSE(net.applied(lagger).empty());
  EXPECT_EQ(net.applied(lagger).back(), "after");
}

TEST(SnapshotTest, FailedTransferSendsTheFollowerBackToProbing) {
  TestNetwork net({1, 2, 3});
  const uint64_t leader = net.ElectLeader();
  const uint64_t lagger = leader == 3 ? 2 : 3;
  net.Stop(lagger);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(net.node(leader).Propose("w").ok());
  net.Settle();
  const uint64_t applied = net.node(leader).log().applied();
  ASSERT_TRUE(net.storage(leader)
                  .CreateSnapshotAndCompact(applied, net.node(leader).conf_state(), "s")
                  .ok());
  ASSERT_TRUE(net.Restart(lagger).ok());
  net.Filter([](const raftpb::Message& m) { return m.type() != raftpb::MSG_SNAP; });  // lost
  net.Tick(leader, 5);
  const Progress* pr = net.node(leader).progress(lagger);
  ASSERT_EQ(pr->state, Progress::State::kSnapshot);
  net.node(leader).ReportSnapshot(lagger, false);
  EXPECT_EQ(pr->state, Progress::State::kProbe);
  net.Filter(nullptr);
  net.Tick(leader, 5);  // retried after the next heartbeat
  net.node(leader).ReportSnapshot(lagger, true);
  net.Tick(leader, 5);
  EXPECT_EQ(net.node(lagger).log().LastIndex(), net.node(leader).log().LastIndex());
}

}  // namespace
}  // namespace pharos::raft::testing
