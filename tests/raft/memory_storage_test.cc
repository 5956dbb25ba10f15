#include "raft/memory_storage.h"

#include <gtest/gtest.h>

namespace pharos::raft {
namespace {

std::vector<raftpb::Entry> Ents(uint64_t lo, uint64_t hi, uint64_t term) {
  std::vector<raftpb::Entry> out;
  for (uint64_t i = lo; i <= hi; ++i) {
    raftpb::Entry& e = out.emplace_back();
    e.set_index(i);
    e.set_term(term);
    e.set_data("d" + std::to_string(i));
  }
  return out;
}

TEST(MemoryStorageTest, AppendTruncatesFromTheFirstNewIndex) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(Ents(1, 5, 1)).ok());
  ASSERT_TRUE(s.Append(Ents(3, 4, 2)).ok());
  EXPECT_EQ(s.LastIndex(), 4u);
  EXPECT_EQ(*s.Term(2), 1u);
  EXPECT_EQ(*s.Term(3), 2u);
  EXPECT_EQ(s.Append(Ents(7, 7, 2)).code(), StatusCode::kInvalidArgument);
}

TEST(MemoryStorageTest, EntriesHonourTheByteLimitButReturnOne) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(Ents(1, 5, 1)).ok());
  EXPECT_EQ(s.Entries(1, 6, 0)->size(), 1u);
  const uint64_t one = Ents(1, 1, 1)[0].ByteSizeLong();
  EXPECT_EQ(s.Entries(1, 6, 2 * one)->size(), 2u);
  EXPECT_EQ(s.Entries(1, 7, 100).status().code(), StatusCode::kUnavailable);
}

TEST(MemoryStorageTest, SnapshotCompactsAndBoundsTerms) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(Ents(1, 10, 3)).ok());
  raftpb::ConfState cs;
  cs.add_voters(1);
  ASSERT_TRUE(s.CreateSnapshotAndCompact(6, cs, "state").ok());
  EXPECT_EQ(s.FirstIndex(), 7u);
  EXPECT_EQ(*s.Term(6), 3u);
  EXPECT_EQ(s.Term(5).status().code(), StatusCode::kCompacted);
  EXPECT_EQ(s.Entries(6, 8, 100).status().code(), StatusCode::kCompacted);
  EXPECT_EQ(s.GetSnapshot()->data(), "state");
  EXPECT_EQ(s.CreateSnapshotAndCompact(5, cs, "").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.CreateSnapshotAndCompact(11, cs, "").code(), StatusCode::kInvalidArgument);
}

TEST(MemoryStorageTest, ApplySnapshotReplacesTheLog) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(Ents(1, 3, 1)).ok());
  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(9);
  snap.mutable_metadata()->set_term(4);
  ASSERT_TRUE(s.ApplySnapshot(snap).ok());
  EXPECT_EQ(s.FirstIndex(), 10u);
  EXPECT_EQ(s.LastIndex(), 9u);
  EXPECT_EQ(s.ApplySnapshot(snap).code(), StatusCode::kFailedPrecondition);
}

TEST(MemoryStorageTest, BootstrapHoldsTheInitialMembersCommitted) {
  auto s = MemoryStorage::Bootstrap({1, 2, 3});
  EXPECT_EQ(s->LastIndex(), 3u);
  EXPECT_EQ(s->hard_state().commit(), 3u);
  EXPECT_EQ(s->hard_state().term(), 1u);
}

}  // namespace
}  // namespace pharos::raft
