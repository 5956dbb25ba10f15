#include "raft/membership.h"

#include <gtest/gtest.h>

namespace pharos::raft {
namespace {

raftpb::Entry ConfEntry(uint64_t index, raftpb::ConfChangeType type, uint64_t id) {
  raftpb::ConfChange cc;
  cc.set_type(type);
  cc.set_node_id(id);
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(2);
  e.set_type(raftpb::ENTRY_CONF_CHANGE);
  e.set_data(cc.SerializeAsString());
  return e;
}

TEST(MembershipTest, ChangesApplyAndInvalidOnesAreRefused) {
  raftpb::ConfState cs;
  cs.add_voters(1);
  raftpb::ConfState next;
  raftpb::ConfChange cc;
  cc.set_type(raftpb::CONF_ADD_LEARNER);
  cc.set_node_id(2);
  ASSERT_TRUE(ApplyConfChange(cs, cc, &next).ok());
  EXPECT_TRUE(IsLearner(next, 2));
  cc.set_type(raftpb::CONF_PROMOTE_LEARNER);
  ASSERT_TRUE(ApplyConfChange(next, cc, &next).ok());
  EXPECT_TRUE(IsVoter(next, 2));
  EXPECT_FALSE(ApplyConfChange(next, cc, &next).ok());  // not a learner any more
  cc.set_type(raftpb::CONF_REMOVE_NODE);
  ASSERT_TRUE(ApplyConfChange(next, cc, &next).ok());
  EXPECT_TRUE(WasRemoved(next, 2));
  cc.set_type(raftpb::CONF_ADD_VOTER);
  EXPECT_FALSE(ApplyConfChange(next, cc, &next).ok());  // ids are never reused
  cc.set_type(raftpb::CONF_REMOVE_NODE);
  cc.set_node_id(1);
  EXPECT_FALSE(ApplyConfChange(next, cc, &next).ok());  // the last voter stays
}

TEST(MembershipTest, TakesEffectOnAppendAndRollsBackOnTruncation) {
  Membership m;
  m.OnAppend(BootstrapEntries({1, 2, 3}));
  EXPECT_EQ(m.Voters(), (std::vector<uint64_t>{1, 2, 3}));
  m.OnAppend({ConfEntry(10, raftpb::CONF_ADD_LEARNER, 4)});
  EXPECT_TRUE(IsLearner(m.current(), 4));
  EXPECT_EQ(m.LastConfigIndex(), 10u);
  EXPECT_TRUE(IsLearner(m.At(10), 4));
  EXPECT_FALSE(IsLearner(m.At(9), 4));
  // A new leader overwrites index 10 with something else: the configuration rolls back.
  raftpb::Entry plain;
  plain.set_index(10);
  plain.set_term(3);
  m.OnAppend({plain});
  EXPECT_FALSE(IsLearner(m.current(), 4));
  EXPECT_EQ(m.LastConfigIndex(), 3u);
}

TEST(MembershipTest, ResetStartsFromASnapshotConfiguration) {
  Membership m;
  m.OnAppend(BootstrapEntries({1, 2, 3}));
  raftpb::ConfState cs;
  cs.add_voters(7);
  m.Reset(50, cs);
  EXPECT_EQ(m.Voters(), std::vector<uint64_t>{7});
  m.OnAppend({ConfEntry(40, raftpb::CONF_ADD_VOTER, 8)});  // below the snapshot: ignored
  EXPECT_EQ(m.Voters(), std::vector<uint64_t>{7});
}

}  // namespace
}  // namespace pharos::raft
