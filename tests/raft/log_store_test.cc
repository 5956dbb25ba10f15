#include "raft/log_store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include "raft/membership.h"
#include "tests/raft/rocks_test_db.h"

namespace pharos::raft {
namespace {

using pharos::testing::TestRocksDb;

raftpb::Entry MakeEntry(uint64_t index, uint64_t term, const std::string& data = "") {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(data.empty() ? "entry-" + std::to_string(index) : data);
  return e;
}

std::vector<raftpb::Entry> Range(uint64_t lo, uint64_t hi, uint64_t term) {
  std::vector<raftpb::Entry> out;
  for (uint64_t i = lo; i <= hi; ++i) out.push_back(MakeEntry(i, term));
  return out;
}

class LogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestRocksDb::FreshDir("logstore");
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen(const std::vector<uint64_t>& bootstrap = {}) {
    store_.reset();
    db_.reset();
    db_ = std::make_unique<TestRocksDb>(dir_, std::vector<std::string>{"raft_log", "raft_meta"});
    ASSERT_TRUE(db_->status().ok()) << db_->status().ToString();
    auto s = LogStore::Open(db_->db(), db_->cf("raft_log"), db_->cf("raft_meta"), bootstrap);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  Status Append(std::vector<raftpb::Entry> entries) {
    LogStore::Write w;
    w.entries = std::move(entries);
    return store_->WriteSync(std::move(w));
  }

  std::string dir_;
  std::unique_ptr<TestRocksDb> db_;
  std::unique_ptr<LogStore> store_;
};

TEST_F(LogStoreTest, EmptyLogHasNoEntries) {
  EXPECT_EQ(store_->FirstIndex(), 1u);
  EXPECT_EQ(store_->LastIndex(), 0u);
  EXPECT_EQ(*store_->Term(0), 0u);
  EXPECT_EQ(store_->Term(1).status().code(), StatusCode::kUnavailable);
}

TEST_F(LogStoreTest, AppendsReadBackAndSurviveReopen) {
  ASSERT_TRUE(Append(Range(1, 10, 1)).ok());
  raftpb::HardState hs;
  hs.set_term(3);
  hs.set_vote(2);
  hs.set_commit(7);
  LogStore::Write w;
  w.hard_state = hs;
  ASSERT_TRUE(store_->WriteSync(w).ok());

  Reopen();
  EXPECT_EQ(store_->FirstIndex(), 1u);
  EXPECT_EQ(store_->LastIndex(), 10u);
  auto init = store_->GetInitialState();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state.term(), 3u);
  EXPECT_EQ(init->hard_state.vote(), 2u);
  EXPECT_EQ(init->hard_state.commit(), 7u);
  auto ents = store_->Entries(3, 6, UINT64_MAX);
  ASSERT_TRUE(ents.ok());
  ASSERT_EQ(ents->size(), 3u);
  EXPECT_EQ((*ents)[0].data(), "entry-3");
  EXPECT_EQ((*ents)[2].index(), 5u);
}

TEST_F(LogStoreTest, EntriesRespectByteLimitButReturnAtLeastOne) {
  ASSERT_TRUE(Append(Range(1, 10, 1)).ok());
  auto one = store_->Entries(1, 11, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
  const uint64_t entry_size = MakeEntry(1, 1).SerializeAsString().size();
  auto three = store_->Entries(1, 11, 3 * entry_size);
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three->size(), 3u);
  EXPECT_EQ(store_->Entries(5, 12, UINT64_MAX).status().code(), StatusCode::kUnavailable);
}

TEST_F(LogStoreTest, AppendReplacesConflictingSuffixOnly) {
  ASSERT_TRUE(Append(Range(1, 10, 1)).ok());
  ASSERT_TRUE(Append(Range(6, 7, 2)).ok());
  EXPECT_EQ(store_->LastIndex(), 7u);
  EXPECT_EQ(*store_->Term(5), 1u);
  EXPECT_EQ(*store_->Term(6), 2u);
  Reopen();
  EXPECT_EQ(store_->LastIndex(), 7u);
  EXPECT_EQ(*store_->Term(7), 2u);
  EXPECT_EQ(store_->Term(8).status().code(), StatusCode::kUnavailable);
}

TEST_F(LogStoreTest, AppendWithGapIsRefusedAndChangesNothing) {
  ASSERT_TRUE(Append(Range(1, 3, 1)).ok());
  Status s = Append(Range(5, 6, 1));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->LastIndex(), 3u);
}

TEST_F(LogStoreTest, CompactDropsPrefixAndKeepsSnapshotTerm) {
  ASSERT_TRUE(Append(Range(1, 10, 2)).ok());
  raftpb::SnapshotMetadata meta;
  meta.set_index(6);
  meta.set_term(2);
  meta.mutable_conf_state()->add_voters(1);
  ASSERT_TRUE(store_->Compact(meta).ok());
  EXPECT_EQ(store_->FirstIndex(), 7u);
  EXPECT_EQ(*store_->Term(6), 2u);
  EXPECT_EQ(store_->Term(5).status().code(), StatusCode::kCompacted);
  EXPECT_EQ(store_->Entries(5, 8, UINT64_MAX).status().code(), StatusCode::kCompacted);
  Reopen();
  EXPECT_EQ(store_->FirstIndex(), 7u);
  EXPECT_EQ(store_->LastIndex(), 10u);
  auto init = store_->GetInitialState();
  ASSERT_TRUE(init.ok());
  ASSERT_EQ(init->conf_state.voters_size(), 1);
  EXPECT_EQ(store_->GetSnapshot()->metadata().index(), 6u);
}

TEST_F(LogStoreTest, InstallingSnapshotReplacesTheLog) {
  ASSERT_TRUE(Append(Range(1, 5, 1)).ok());
  LogStore::Write w;
  raftpb::SnapshotMetadata meta;
  meta.set_index(20);
  meta.set_term(4);
  w.snapshot = meta;
  ASSERT_TRUE(store_->WriteSync(w).ok());
  EXPECT_EQ(store_->FirstIndex(), 21u);
  EXPECT_EQ(store_->LastIndex(), 20u);
  ASSERT_TRUE(Append(Range(21, 22, 4)).ok());
  Reopen();
  EXPECT_EQ(store_->FirstIndex(), 21u);
  EXPECT_EQ(store_->LastIndex(), 22u);
  EXPECT_EQ(*store_->Term(20), 4u);
}

// A received snapshot's data is kept, durably and with the write that cuts the log, until the
// application says it has restored it, or a compaction shows its state is past it.
TEST_F(LogStoreTest, AReceivedSnapshotsDataIsKeptUntilForgottenOrCompactedPast) {
  ASSERT_TRUE(Append(Range(1, 5, 1)).ok());
  EXPECT_FALSE(*store_->ReceivedSnapshot());
  LogStore::Write w;
  raftpb::SnapshotMetadata meta;
  meta.set_index(20);
  meta.set_term(4);
  w.snapshot = meta;
  w.snapshot_data = "state at 20";
  ASSERT_TRUE(store_->WriteSync(w).ok());
  Reopen();
  auto kept = store_->ReceivedSnapshot();
  ASSERT_TRUE(kept.ok() && *kept);
  EXPECT_EQ((*kept)->metadata().index(), 20u);
  EXPECT_EQ((*kept)->data(), "state at 20");

  // Forgetting another snapshot's index keeps it; forgetting its own drops it.
  store_->ForgetReceivedSnapshot(19);
  ASSERT_TRUE(Append(Range(21, 40, 4)).ok());  // written after the forget: the queue is in order
  EXPECT_TRUE(*store_->ReceivedSnapshot());
  store_->ForgetReceivedSnapshot(20);
  ASSERT_TRUE(Append(Range(41, 41, 4)).ok());
  EXPECT_FALSE(*store_->ReceivedSnapshot());

  // A compaction past it drops it too, as does a snapshot point written without data.
  w.snapshot->set_index(50);
  w.snapshot_data = "state at 50";
  ASSERT_TRUE(store_->WriteSync(w).ok());
  EXPECT_TRUE(*store_->ReceivedSnapshot());
  ASSERT_TRUE(Append(Range(51, 60, 4)).ok());
  raftpb::SnapshotMetadata past;
  past.set_index(55);
  past.set_term(4);
  ASSERT_TRUE(store_->Compact(past).ok());
  EXPECT_FALSE(*store_->ReceivedSnapshot());
  w.snapshot->set_index(70);
  ASSERT_TRUE(store_->WriteSync(w).ok());
  EXPECT_TRUE(*store_->ReceivedSnapshot());
  LogStore::Write restored;
  restored.snapshot = meta;
  restored.snapshot->set_index(80);
  ASSERT_TRUE(store_->WriteSync(restored).ok());
  EXPECT_FALSE(*store_->ReceivedSnapshot());
}

TEST_F(LogStoreTest, BootstrapWritesInitialMembersOnce) {
  Reopen({1, 2, 3});
  EXPECT_EQ(store_->LastIndex(), 3u);
  EXPECT_EQ(store_->GetInitialState()->hard_state.commit(), 3u);
  auto ents = store_->Entries(1, 4, UINT64_MAX);
  ASSERT_TRUE(ents.ok());
  Membership m;
  m.OnAppend(*ents);
  EXPECT_EQ(m.Voters(), (std::vector<uint64_t>{1, 2, 3}));
  ASSERT_TRUE(Append(Range(4, 4, 2)).ok());
  Reopen({1, 2, 3});  // not bootstrapped again
  EXPECT_EQ(store_->LastIndex(), 4u);
}

TEST_F(LogStoreTest, GroupCommitBatchesConcurrentAppenders) {
  // Appenders write disjoint index ranges of one log under a lock that hands out indexes, so the
  // log stays contiguous; while one fsync runs, the others queue into the next batch.
  constexpr int kThreads = 8, kPerThread = 40;
  std::mutex index_mu;
  uint64_t next = 1;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        std::promise<Status> done;
        {
          std::lock_guard<std::mutex> lock(index_mu);
          LogStore::Write w;
          w.entries.push_back(MakeEntry(next++, 1));
          store_->Submit(std::move(w), [&done](Status s) { done.set_value(std::move(s)); });
        }
        if (!done.get_future().get().ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->LastIndex(), uint64_t{kThreads * kPerThread});
  const LogStore::Stats stats = store_->stats();
  EXPECT_EQ(stats.writes, uint64_t{kThreads * kPerThread});
  // With 8 appenders waiting on each fsync, far fewer fsyncs than writes are needed.
  EXPECT_LT(stats.batches, stats.writes / 2) << "batches " << stats.batches;
}

// The log's key for an index, as LogStore writes it (8 bytes, big-endian).
std::string IndexKeyOf(uint64_t index) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i, index >>= 8) key[i] = static_cast<char>(index & 0xff);
  return key;
}

TEST_F(LogStoreTest, RecentEntriesAreReadFromMemoryAndOlderOnesFromRocksDb) {
  ASSERT_TRUE(Append(Range(1, 10, 1)).ok());
  // Take entry 5 out from under the store: a read that goes to RocksDB now finds a hole.
  ASSERT_TRUE(db_->db()->Delete(rocksdb::WriteOptions(), db_->cf("raft_log"), IndexKeyOf(5)).ok());
  auto recent = store_->Entries(1, 11, UINT64_MAX);
  ASSERT_TRUE(recent.ok()) << recent.status().ToString();
  ASSERT_EQ(recent->size(), 10u);
  EXPECT_EQ((*recent)[4].data(), "entry-5");
  // The byte limit counts as it does for entries read from RocksDB.
  const uint64_t entry_size = MakeEntry(1, 1).SerializeAsString().size();
  auto three = store_->Entries(1, 11, 3 * entry_size);
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three->size(), 3u);

  // 300 entries of 1 KiB push the first ten out of memory (it keeps 256 KiB).
  std::vector<raftpb::Entry> big;
  for (uint64_t i = 11; i <= 310; ++i) big.push_back(MakeEntry(i, 1, std::string(1024, 'x')));
  ASSERT_TRUE(Append(std::move(big)).ok());
  EXPECT_EQ(store_->Entries(1, 11, UINT64_MAX).status().code(), StatusCode::kCorruption);
  auto newest = store_->Entries(300, 311, UINT64_MAX);
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(newest->size(), 11u);
}

TEST_F(LogStoreTest, RecentEntriesFollowReplacedSuffixesCompactionsAndSnapshots) {
  // Each read is checked against a second store over the same RocksDB data, which has nothing
  // in memory and reads every entry from RocksDB.
  auto expect_same_as_rocksdb = [&](uint64_t lo, uint64_t hi) {
    auto from_memory = store_->Entries(lo, hi, UINT64_MAX);
    ASSERT_TRUE(from_memory.ok()) << from_memory.status().ToString();
    auto cold = LogStore::Open(db_->db(), db_->cf("raft_log"), db_->cf("raft_meta"));
    ASSERT_TRUE(cold.ok());
    auto from_rocksdb = (*cold)->Entries(lo, hi, UINT64_MAX);
    ASSERT_TRUE(from_rocksdb.ok()) << from_rocksdb.status().ToString();
    ASSERT_EQ(from_memory->size(), from_rocksdb->size());
    for (size_t i = 0; i < from_memory->size(); ++i) {
      EXPECT_EQ((*from_memory)[i].SerializeAsString(), (*from_rocksdb)[i].SerializeAsString());
    }
  };
  ASSERT_TRUE(Append(Range(1, 10, 1)).ok());
  ASSERT_TRUE(Append(Range(6, 7, 2)).ok());  // a new leader's entries replace 6-10
  auto replaced = store_->Entries(5, 8, UINT64_MAX);
  ASSERT_TRUE(replaced.ok());
  ASSERT_EQ(replaced->size(), 3u);
  EXPECT_EQ((*replaced)[0].term(), 1u);
  EXPECT_EQ((*replaced)[1].term(), 2u);
  EXPECT_EQ((*replaced)[2].term(), 2u);
  EXPECT_EQ(store_->Entries(5, 9, UINT64_MAX).status().code(), StatusCode::kUnavailable);
  expect_same_as_rocksdb(1, 8);

  ASSERT_TRUE(Append(Range(8, 12, 2)).ok());
  raftpb::SnapshotMetadata meta;
  meta.set_index(9);
  meta.set_term(2);
  ASSERT_TRUE(store_->Compact(meta).ok());
  EXPECT_EQ(store_->Entries(9, 13, UINT64_MAX).status().code(), StatusCode::kCompacted);
  expect_same_as_rocksdb(10, 13);

  LogStore::Write install;
  meta.set_index(40);
  meta.set_term(3);
  install.snapshot = meta;
  ASSERT_TRUE(store_->WriteSync(std::move(install)).ok());
  EXPECT_EQ(store_->Entries(41, 42, UINT64_MAX).status().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(Append(Range(41, 43, 3)).ok());
  expect_same_as_rocksdb(41, 44);
}

}  // namespace
}  // namespace pharos::raft
