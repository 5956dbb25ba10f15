#include "raft/raft_log.h"

#include <gtest/gtest.h>

#include "raft/memory_storage.h"

namespace pharos::raft {
namespace {

raftpb::Entry E(uint64_t index, uint64_t term) {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data("d" + std::to_string(index) + "@" + std::to_string(term));
  return e;
}

std::vector<raftpb::Entry> Es(std::initializer_list<std::pair<uint64_t, uint64_t>> it) {
  std::vector<raftpb::Entry> out;
  for (auto [i, t] : it) out.push_back(E(i, t));
  return out;
}

TEST(RaftLogTest, ConsistencyCheckOnPreviousIndexAndTerm) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append(Es({{1, 1}, {2, 1}, {3, 2}}));
  uint64_t first = 0;
  EXPECT_FALSE(log.MaybeAppend(3, 1, 0, Es({{4, 2}}), &first).has_value());  // term mismatch
  EXPECT_FALSE(log.MaybeAppend(5, 2, 0, Es({{6, 2}}), &first).has_value());  // beyond the log
  auto last = log.MaybeAppend(3, 2, 0, Es({{4, 2}}), &first);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, 4u);
  EXPECT_EQ(first, 4u);
}

TEST(RaftLogTest, StaleAppendOfEntriesWeHaveTruncatesNothing) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append(Es({{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}}));
  uint64_t first = 99;
  // A duplicated, older AppendEntries carrying entries 2..3 that we already have.
  auto last = log.MaybeAppend(1, 1, 0, Es({{2, 1}, {3, 1}}), &first);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, 3u);
  EXPECT_EQ(first, 0u);
  EXPECT_EQ(log.LastIndex(), 5u);  // 4 and 5 survive
}

TEST(RaftLogTest, ConflictTruncatesFromTheFirstConflictOnly) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append(Es({{1, 1}, {2, 1}, {3, 1}, {4, 1}}));
  uint64_t first = 0;
  auto last = log.MaybeAppend(1, 1, 0, Es({{2, 1}, {3, 3}}), &first);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(first, 3u);
  EXPECT_EQ(log.LastIndex(), 3u);
  EXPECT_EQ(*log.Term(3), 3u);
  EXPECT_EQ(*log.Term(2), 1u);
}

TEST(RaftLogTest, CommitIsBoundedByWhatTheMessageMatched) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append(Es({{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}}));  // 4, 5 may be a stale suffix
  uint64_t first = 0;
  ASSERT_TRUE(log.MaybeAppend(2, 1, /*leader_commit=*/5, {}, &first).has_value());
  EXPECT_EQ(log.committed(), 2u);  // min(leader commit, last index this message matched)
}

TEST(RaftLogTest, FindConflictByTermGivesTheBacktrackingHint) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append(Es({{1, 1}, {2, 1}, {3, 2}, {4, 2}, {5, 4}}));
  EXPECT_EQ(log.FindConflictByTerm(5, 3), std::make_pair(uint64_t{4}, uint64_t{2}));
  EXPECT_EQ(log.FindConflictByTerm(5, 1), std::make_pair(uint64_t{2}, uint64_t{1}));
  EXPECT_EQ(log.FindConflictByTerm(9, 4), std::make_pair(uint64_t{5}, uint64_t{4}));
  EXPECT_EQ(log.FindConflictByTerm(5, 0), std::make_pair(uint64_t{0}, uint64_t{0}));
}

TEST(RaftLogTest, IsUpToDateComparesLastTermThenLastIndex) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append(Es({{1, 1}, {2, 2}, {3, 2}}));
  EXPECT_TRUE(log.IsUpToDate(1, 3));   // higher last term wins even if shorter
  EXPECT_TRUE(log.IsUpToDate(3, 2));   // equal term, equal index
  EXPECT_TRUE(log.IsUpToDate(4, 2));   // equal term, longer
  EXPECT_FALSE(log.IsUpToDate(2, 2));  // equal term, shorter
  EXPECT_FALSE(log.IsUpToDate(9, 1));  // lower term loses however long
}

TEST(RaftLogTest, SliceSpansStorageAndUnstableWithinTheByteLimit) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(Es({{1, 1}, {2, 1}, {3, 1}})).ok());
  RaftLog log(&s, UINT64_MAX);
  log.Append(Es({{4, 2}, {5, 2}}));
  auto all = log.Slice(1, 6, UINT64_MAX);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[3].term(), 2u);
  const uint64_t one = E(1, 1).ByteSizeLong();
  EXPECT_EQ(log.Slice(2, 6, 3 * one)->size(), 3u);
  EXPECT_EQ(log.Slice(1, 6, 0)->size(), 1u);
}

TEST(RaftLogTest, StableToIgnoresEntriesReplacedSinceTheReady) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append(Es({{1, 1}, {2, 1}}));
  log.Append(Es({{2, 2}}));  // replaced before the Ready for (2, 1) was persisted
  log.StableTo(2, 1);
  EXPECT_EQ(log.UnstableEntries().size(), 2u);
  log.StableTo(2, 2);
  EXPECT_TRUE(log.UnstableEntries().empty());
  EXPECT_EQ(log.StableLastIndex(), 2u);
}

TEST(RaftLogTest, RestoreMakesTheLogExactlyTheSnapshot) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append(Es({{1, 1}, {2, 1}}));
  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(10);
  snap.mutable_metadata()->set_term(3);
  log.Restore(snap);
  EXPECT_EQ(log.FirstIndex(), 11u);
  EXPECT_EQ(log.LastIndex(), 10u);
  EXPECT_EQ(log.committed(), 10u);
  EXPECT_EQ(*log.Term(10), 3u);
  EXPECT_FALSE(log.Term(9).has_value());
}

TEST(RaftLogTest, AppendBelowCommitIsAFatalBug) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append(Es({{1, 1}, {2, 1}, {3, 1}}));
  log.CommitTo(3);
  uint64_t first = 0;
  EXPECT_THROW(log.MaybeAppend(1, 1, 3, Es({{2, 5}}), &first), std::logic_error);
}

}  // namespace
}  // namespace pharos::raft
