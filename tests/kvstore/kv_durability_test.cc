// Durability of the log and the key-value store together, as pharosd keeps them in one RocksDB
// (DESIGN.md §4): entries are appended to the Raft log (synced, group commit), applied to the MVCC
// store (WAL on, unsynced) once durable, and the log is compacted below what has been applied.
// The power goes at a random instant through CrashFileSystem, every unsynced byte is thrown away,
// and recovery (open, replay the log after the applied index) must give exactly the state of
// every durable entry applied once: no acknowledged entry lost, none applied twice, and never a
// log compacted past what the store holds. tests/durability_mutation_test.sh breaks each rule and
// shows this test fail.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>

#include "kvstore/mvcc_store.h"
#include "raft/log_store.h"
#include "tests/raft/crash_file_system.h"
#include "tests/raft/rocks_test_db.h"

namespace pharos::kv {
namespace {

using pharos::testing::CrashFileSystem;
using pharos::testing::TestRocksDb;

constexpr uint64_t kKeys = 37;

// Entry i puts "k<i mod 37>" = "v<i>": the state after entries 1..n is known without a model.
raftpb::Entry EntryAt(uint64_t index) {
  pb::RaftRequest req;
  req.set_id(index);
  req.mutable_put()->set_key("k" + std::to_string(index % kKeys));
  req.mutable_put()->set_value("v" + std::to_string(index) + std::string(100, 'x'));
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(1);
  e.set_data(req.SerializeAsString());
  return e;
}

Status ApplyEntry(MvccStore& store, const raftpb::Entry& e) {
  pb::RaftRequest req;
  if (!req.ParseFromString(e.data())) return Status::Corruption("entry");
  auto r = store.Apply(e.index(), req);
  return r.ok() ? r->status : r.status();
}

// The store holds exactly entries 1..n, each applied once. A new store is at revision 1, so entry
// i made revision i + 1.
void ExpectStateOf(MvccStore& store, uint64_t n) {
  ASSERT_EQ(store.applied_index(), n);
  ASSERT_EQ(store.revision(), static_cast<int64_t>(n) + 1) << "an entry lost or applied twice";
  pb::RangeRequest all;
  all.set_key("k");
  all.set_range_end("l");
  auto r = store.Range(all);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(static_cast<uint64_t>(r->kvs_size()), std::min(n, kKeys));
  for (const pb::KeyValue& kv : r->kvs()) {
    const uint64_t k = std::stoull(kv.key().substr(1));
    const uint64_t last = n - ((n - k) % kKeys);  // the last entry <= n that wrote k
    EXPECT_EQ(kv.mod_revision(), static_cast<int64_t>(last) + 1) << kv.key();
    EXPECT_EQ(kv.value(), "v" + std::to_string(last) + std::string(100, 'x')) << kv.key();
    EXPECT_EQ(kv.version(), static_cast<int64_t>((last - k) / kKeys + (k == 0 ? 0 : 1)))
        << kv.key();
  }
}

TEST(KvDurabilityTest, RecoveryAfterACrashThatDropsUnsyncedBytesAppliesEveryDurableEntryOnce) {
  const std::string dir = TestRocksDb::FreshDir("kv-durability");
  const std::vector<std::string> families{"raft_log", "raft_meta", "kv", "kv_meta", "kv_lease"};
  std::mt19937_64 rng(20261127);
  uint64_t acked = 0;  // every entry up to here was acknowledged durable in the log
  uint64_t compactions = 0;
  constexpr int kRounds = 30;
  for (int round = 0; round <= kRounds; ++round) {
    CrashFileSystem fs;
    auto db = std::make_unique<TestRocksDb>(dir, families, fs.env());
    ASSERT_TRUE(db->status().ok()) << db->status().ToString();
    auto log_opened = raft::LogStore::Open(db->db(), db->cf("raft_log"), db->cf("raft_meta"));
    ASSERT_TRUE(log_opened.ok()) << log_opened.status().ToString();
    std::unique_ptr<raft::LogStore> log = std::move(*log_opened);
    auto store_opened =
        MvccStore::Open(db->db(), {db->cf("kv"), db->cf("kv_meta"), db->cf("kv_lease")});
    ASSERT_TRUE(store_opened.ok()) << store_opened.status().ToString();
    std::unique_ptr<MvccStore> store = std::move(*store_opened);

    // Recovery, as pharosd does it: replay the log after the applied index.
    const uint64_t applied = store->applied_index();
    ASSERT_LE(log->FirstIndex(), applied + 1)
        << "round " << round << ": the log was compacted to " << log->FirstIndex() - 1
        << " but the store holds only " << applied << ": entries in between are gone";
    ASSERT_GE(log->LastIndex(), acked) << "round " << round << ": acknowledged entries lost";
    if (log->LastIndex() > applied) {
      auto entries = log->Entries(applied + 1, log->LastIndex() + 1, UINT64_MAX);
      ASSERT_TRUE(entries.ok()) << entries.status().ToString();
      for (const raftpb::Entry& e : *entries) ASSERT_TRUE(ApplyEntry(*store, e).ok());
    }
    ExpectStateOf(*store, log->LastIndex());
    if (round == kRounds) break;  // the last round only recovers and checks

    // Entries submitted without waiting (group commit), applied by this thread as the log
    // acknowledges them, the log compacted behind the applies; the power goes from the log's
    // writer thread after a random number of acknowledgements, while applies are under way.
    std::mutex mu;
    std::condition_variable cv;
    uint64_t durable = log->LastIndex();
    bool failed = false;
    const int crash_after = 1 + static_cast<int>(rng() % 60);
    int acks = 0;
    int in_flight = 0;
    uint64_t next = log->LastIndex() + 1;
    auto submit = [&] {
      raft::LogStore::Write write;
      const uint64_t n = 1 + rng() % 8;
      for (uint64_t i = 0; i < n; ++i) write.entries.push_back(EntryAt(next + i));
      const uint64_t last = next + n - 1;
      next += n;
      ++in_flight;
      log->Submit(std::move(write), [&, last](Status s) {
        std::lock_guard lock(mu);
        --in_flight;
        if (s.ok()) {
          durable = std::max(durable, last);
          if (++acks == crash_after) fs.Crash();
        } else {
          failed = true;
        }
        cv.notify_all();
      });
    };
    uint64_t applied_now = store->applied_index();
    uint64_t compacted_to = log->FirstIndex() - 1;
    bool compacting = false;
    for (int submitted = 0;;) {
      uint64_t target;
      {
        std::unique_lock lock(mu);
        // A few writes in flight at a time, so that they batch and compactions do not queue
        // behind all of them.
        while (submitted < 100 && in_flight < 3 && !failed) {
          submit();
          ++submitted;
        }
        cv.wait(lock, [&] { return failed || durable > applied_now || in_flight == 0; });
        if (failed || (in_flight == 0 && applied_now == durable && submitted == 100)) break;
        target = durable;
        acked = std::max(acked, durable);
      }
      for (; applied_now < target; ++applied_now) {
        if (!ApplyEntry(*store, EntryAt(applied_now + 1)).ok()) break;
      }
      if (applied_now < target) break;  // the crash stopped the applies
      // Compact the log behind the applies, as the driver does once enough is applied.
      std::lock_guard lock(mu);
      if (!compacting && applied_now >= compacted_to + 20) {
        raftpb::SnapshotMetadata meta;
        meta.set_index(applied_now - 5);
        meta.set_term(1);
        compacting = true;
        log->CompactAsync(meta, [&, index = meta.index()](Status s) {
          std::lock_guard lock(mu);
          compacting = false;
          if (s.ok()) {
            compacted_to = index;
            ++compactions;
          }
          cv.notify_all();
        });
      }
    }
    log.reset();  // waits for the writer: everything submitted completed or failed
    fs.Crash();   // (if it had not yet)
    {
      std::lock_guard lock(mu);
      acked = std::max(acked, durable);
    }
    store.reset();
    db.reset();
    fs.DropUnsyncedData(&rng);  // a random part of the unsynced bytes may have made it
  }
  std::printf("%llu entries acknowledged, %llu log compactions, over %d crashes\n",
              static_cast<unsigned long long>(acked), static_cast<unsigned long long>(compactions),
              kRounds);
  EXPECT_GT(compactions, 10u) << "the log was hardly compacted: the test proves little";
}

}  // namespace
}  // namespace pharos::kv
