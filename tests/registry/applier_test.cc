// The apply thread on a real RocksDB: what it hands back to the owner's thread for the requests
// it applies.
#include "registry/applier.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <mutex>

#include "registry/storage_engine.h"
#include "tests/raft/rocks_test_db.h"

namespace pharos::registry {
namespace {

constexpr uint64_t kSelf = 7;
constexpr uint64_t kOther = 9;

raftpb::Entry PutEntry(uint64_t index, uint64_t request_id, uint64_t proposer) {
  pb::RaftRequest req;
  req.set_id(request_id);
  req.set_proposer(proposer);
  req.mutable_put()->set_key("k" + std::to_string(index));
  req.mutable_put()->set_value("v");
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(1);
  e.set_type(raftpb::ENTRY_NORMAL);
  e.set_data(req.SerializeAsString());
  return e;
}

// Only the member that proposed a request hands its answer on: on the others nobody waits for
// it, and each hand-over wakes the owner's thread.
TEST(ApplierTest, AnswersOnlyTheRequestsThisMemberProposed) {
  const std::string dir = pharos::testing::TestRocksDb::FreshDir("applier");
  {
    auto storage = StorageEngine::Open(dir);
    ASSERT_TRUE(storage.ok()) << storage.status().ToString();
    std::mutex mu;
    std::vector<uint64_t> answered;  // request ids, guarded by mu
    Applier::Callbacks callbacks;
    callbacks.applied = [&](AppliedRequest a) {
      std::lock_guard<std::mutex> lock(mu);
      answered.push_back(a.request_id);
    };
    // The owner's thread is played by the apply thread itself: run at once.
    Applier applier(
        **storage, kSelf, [](std::function<void()> fn) { fn(); }, callbacks,
        SystemClock::Instance());
    ASSERT_TRUE(applier.Start().ok());
    // Proposed here, elsewhere, and before entries named their proposer (0): answered, not,
    // answered.
    applier.Apply(std::nullopt,
                  {PutEntry(1, 101, kSelf), PutEntry(2, 102, kOther), PutEntry(3, 103, 0)});
    std::promise<int64_t> revision;
    applier.RunAt(3, [&](kv::MvccStore& store, kv::WatchHub&, kv::Lessor&) {
      revision.set_value(store.revision());
    });
    // Every entry was applied, whoever proposed it.
    EXPECT_EQ(revision.get_future().get(), 4);
    applier.Stop();
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(answered, (std::vector<uint64_t>{101, 103}));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pharos::registry
