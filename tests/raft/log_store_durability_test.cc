// Durability of the log store through CrashFileSystem: appenders submit entries (group commit
// batches them) or write them one at a time (WriteSync), the power goes at a random instant,
// every byte not synced is thrown away, and the store reopened must hold every entry it
// acknowledged. Unlike SIGKILL (log_store_crash_test.cc), this catches a missing fsync: the log
// written with sync=false fails here (tests/durability_mutation_test.sh shows it).
#include <gtest/gtest.h>

#include <atomic>
#include <random>

#include "raft/log_store.h"
#include "tests/raft/crash_file_system.h"
#include "tests/raft/rocks_test_db.h"

namespace pharos::raft {
namespace {

using pharos::testing::CrashFileSystem;
using pharos::testing::TestRocksDb;

// What entry `index` holds, so a survivor can be checked without remembering it.
raftpb::Entry EntryAt(uint64_t index) {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(1 + index / 100);
  e.set_data("entry-" + std::to_string(index) + std::string(200, 'p'));
  return e;
}

TEST(LogStoreDurabilityTest, EveryAcknowledgedEntrySurvivesACrashThatDropsUnsyncedBytes) {
  const std::string dir = TestRocksDb::FreshDir("logstore-durability");
  std::mt19937_64 rng(20261127);
  uint64_t acked = 0;  // every entry up to here was acknowledged durable
  constexpr int kRounds = 25;
  for (int round = 0; round <= kRounds; ++round) {
    CrashFileSystem fs;
    auto db = std::make_unique<TestRocksDb>(dir, std::vector<std::string>{"raft_log", "raft_meta"},
                                            fs.env());
    ASSERT_TRUE(db->status().ok()) << db->status().ToString();
    auto opened = LogStore::Open(db->db(), db->cf("raft_log"), db->cf("raft_meta"));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::unique_ptr<LogStore> store = std::move(*opened);
    ASSERT_GE(store->LastIndex(), acked) << "round " << round << ": acknowledged entries lost";
    if (acked > 0) {
      auto entries = store->Entries(1, acked + 1, UINT64_MAX);
      ASSERT_TRUE(entries.ok()) << entries.status().ToString();
      ASSERT_EQ(entries->size(), acked);
      for (const raftpb::Entry& e : *entries) {
        ASSERT_EQ(e.SerializeAsString(), EntryAt(e.index()).SerializeAsString());
      }
    }
    if (round == kRounds) break;  // the last round only checks

    // Writes of 1-20 entries each. In even rounds they are submitted without waiting, so they
    // batch, and the power goes while others are still in flight; in odd rounds each is waited
    // for before the next, as a follower's writes go when its leader sends one append at a time.
    const bool one_at_a_time = round % 2 == 1;
    std::atomic<uint64_t> highest{acked};
    std::atomic<int> acks{0};
    const int crash_after = 1 + static_cast<int>(rng() % 40);
    uint64_t next = store->LastIndex() + 1;
    for (int w = 0; w < 60; ++w) {
      LogStore::Write write;
      const uint64_t n = 1 + rng() % 20;
      for (uint64_t i = 0; i < n; ++i) write.entries.push_back(EntryAt(next + i));
      const uint64_t last = next + n - 1;
      next += n;
      auto acknowledge = [&, last](Status s) {
        if (!s.ok()) return;
        uint64_t h = highest.load();
        while (h < last && !highest.compare_exchange_weak(h, last)) {
        }
        if (++acks == crash_after) fs.Crash();
      };
      if (one_at_a_time) {
        acknowledge(store->WriteSync(std::move(write)));
      } else {
        store->Submit(std::move(write), acknowledge);
      }
    }
    store.reset();  // waits for the writer: everything submitted completed or failed
    fs.Crash();     // (if it had not yet)
    db.reset();
    fs.DropUnsyncedData(&rng);  // a random part of the unsynced bytes may have made it
    acked = highest;
  }
  std::printf("acknowledged %llu entries over %d crashes\n", static_cast<unsigned long long>(acked),
              kRounds);
  EXPECT_GT(acked, 100u);
}

}  // namespace
}  // namespace pharos::raft
