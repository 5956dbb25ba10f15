#include "kvstore/watch_hub.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/kvstore/kv_requests.h"
#include "tests/kvstore/kv_test_store.h"

namespace pharos::kv::testing {
namespace {

class WatchHubTest : public ::testing::Test {
 protected:
  void MakeHub(WatchHub::Options options = {}) {
    hub_ =
        std::make_unique<WatchHub>(&**store_, options, [this](int64_t id) { ready_.insert(id); });
  }
  void Apply(const pb::RaftRequest& r) {
    auto res = (*store_)->Apply(++index_, r);
    ASSERT_TRUE(res.ok());
    if (!res->events.empty()) hub_->OnApply(res->revision, res->events);
  }
  pb::WatchCreateRequest Prefix(const std::string& prefix, int64_t start = 0) {
    pb::WatchCreateRequest w;
    w.set_key(prefix);
    std::string end = prefix;
    end.back()++;
    w.set_range_end(end);
    w.set_start_revision(start);
    return w;
  }
  // Everything the watcher has, as (revision, key, type) in delivery order.
  std::vector<std::tuple<int64_t, std::string, int>> Drain(int64_t id) {
    std::vector<std::tuple<int64_t, std::string, int>> out;
    for (;;) {
      auto batch = hub_->Poll(id, 7);
      if (batch.empty()) break;
      for (const auto& resp : batch) {
        for (const auto& ev : resp.events()) {
          EXPECT_EQ(ev.kv().mod_revision(), resp.header().revision());
          out.emplace_back(resp.header().revision(), ev.kv().key(), ev.type());
        }
      }
    }
    return out;
  }

  std::unique_ptr<KvTestStore> store_ = std::make_unique<KvTestStore>("watch");
  std::unique_ptr<WatchHub> hub_;
  std::set<int64_t> ready_;
  uint64_t index_ = 0;
};

TEST_F(WatchHubTest, LiveEventsOnAPrefixInOrder) {
  MakeHub();
  auto id = hub_->Watch(Prefix("svc/"));
  ASSERT_TRUE(id.ok());
  Apply(PutReq("svc/a", "1"));
  Apply(PutReq("other", "1"));
  Apply(DeleteReq("svc/a"));
  EXPECT_TRUE(ready_.count(*id));
  auto got = Drain(*id);
  ASSERT_EQ(got.size(), 2u);
  // A new store is at revision 1: the first write is revision 2.
  EXPECT_EQ(got[0], std::make_tuple(int64_t{2}, std::string("svc/a"), int{pb::Event::PUT}));
  EXPECT_EQ(got[1], std::make_tuple(int64_t{4}, std::string("svc/a"), int{pb::Event::DELETE}));
}

TEST_F(WatchHubTest, StartInThePastReplaysHistoryThenGoesLive) {
  MakeHub();
  for (int i = 0; i < 10; ++i) Apply(PutReq("svc/" + std::to_string(i), "v"));  // 2..11
  auto id = hub_->Watch(Prefix("svc/", 5));
  ASSERT_TRUE(id.ok());
  EXPECT_FALSE(hub_->IsSynced(*id));
  Apply(PutReq("svc/live", "v"));
  auto got = Drain(*id);
  ASSERT_EQ(got.size(), 8u);  // revisions 5..12
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(std::get<0>(got[i]), int64_t(5 + i));
  EXPECT_TRUE(hub_->IsSynced(*id));
}

TEST_F(WatchHubTest, EventsOfOneRevisionArriveTogether) {
  MakeHub();
  const int64_t lease = (*store_)->Apply(++index_, GrantReq(5))->response.lease_grant().id();
  Apply(PutReq("svc/a", "1", lease));
  Apply(PutReq("svc/b", "1", lease));
  auto id = hub_->Watch(Prefix("svc/"));
  Apply(RevokeReq(lease));
  auto batch = hub_->Poll(*id, 10);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].events_size(), 2);
}

TEST_F(WatchHubTest, SlowWatcherIsCaughtUpFromStorageWithoutGapsOrDuplicates) {
  WatchHub::Options options;
  options.max_queued = 4;
  options.catch_up_revisions = 3;
  MakeHub(options);
  auto slow = hub_->Watch(Prefix("k"));
  ASSERT_TRUE(slow.ok());
  for (int i = 0; i < 50; ++i) Apply(PutReq("k" + std::to_string(i % 7), std::to_string(i)));
  EXPECT_FALSE(hub_->IsSynced(*slow));  // its queue filled up; it reads from storage now
  auto got = Drain(*slow);
  ASSERT_EQ(got.size(), 50u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(std::get<0>(got[i]), int64_t(i + 2));
  EXPECT_TRUE(hub_->IsSynced(*slow));
}

TEST_F(WatchHubTest, FiltersAndPrevKv) {
  MakeHub();
  pb::WatchCreateRequest req = Prefix("k");
  req.add_filters(pb::WatchCreateRequest::NOPUT);
  req.set_prev_kv(true);
  auto id = hub_->Watch(req);
  Apply(PutReq("k1", "old"));
  Apply(DeleteReq("k1"));
  auto batch = hub_->Poll(*id, 10);
  ASSERT_EQ(batch.size(), 1u);
  ASSERT_EQ(batch[0].events_size(), 1);
  EXPECT_EQ(batch[0].events(0).type(), pb::Event::DELETE);
  EXPECT_EQ(batch[0].events(0).prev_kv().value(), "old");
}

// The store reads previous values for events only while some watcher wants them (the applier
// sets MvccStore::set_prev_kv_in_events from this before each batch).
TEST_F(WatchHubTest, KnowsWhetherAnyWatcherWantsPreviousValues) {
  MakeHub();
  EXPECT_FALSE(hub_->AnyWantsPrevKv());
  auto plain = hub_->Watch(Prefix("a"));
  EXPECT_FALSE(hub_->AnyWantsPrevKv());
  pb::WatchCreateRequest with_prev = Prefix("k");
  with_prev.set_prev_kv(true);
  auto first = hub_->Watch(with_prev);
  auto second = hub_->Watch(with_prev);
  EXPECT_TRUE(hub_->AnyWantsPrevKv());
  hub_->Cancel(*first);
  EXPECT_TRUE(hub_->AnyWantsPrevKv());
  hub_->Cancel(*plain);
  hub_->Cancel(*second);
  hub_->Cancel(*second);  // twice: counted once
  EXPECT_FALSE(hub_->AnyWantsPrevKv());
  // A watcher cancelled by compaction while catching up is no longer counted either.
  for (int i = 0; i < 4; ++i) Apply(PutReq("k1", std::to_string(i)));
  pb::WatchCreateRequest behind_req = Prefix("k", 2);
  behind_req.set_prev_kv(true);
  auto behind = hub_->Watch(behind_req);
  ASSERT_TRUE(behind.ok());
  EXPECT_TRUE(hub_->AnyWantsPrevKv());
  ASSERT_TRUE((*store_)->Apply(++index_, CompactReq(4))->status.ok());
  auto batch = hub_->Poll(*behind, 10);
  ASSERT_FALSE(batch.empty());
  EXPECT_TRUE(batch.back().canceled());
  EXPECT_FALSE(hub_->AnyWantsPrevKv());
}

TEST_F(WatchHubTest, CompactedStartFailsWithTheCompactRevision) {
  MakeHub();
  for (int i = 0; i < 5; ++i) Apply(PutReq("k", std::to_string(i)));
  ASSERT_TRUE((*store_)->Apply(++index_, CompactReq(3))->status.ok());
  auto id = hub_->Watch(Prefix("k", 2));
  EXPECT_EQ(id.status().code(), StatusCode::kCompacted);
  EXPECT_NE(id.status().message().find("3"), std::string::npos);
  EXPECT_TRUE(hub_->Watch(Prefix("k", 4)).ok());
}

TEST_F(WatchHubTest, CatchUpOvertakenByCompactionCancelsWithCompactRevision) {
  WatchHub::Options options;
  options.catch_up_revisions = 2;
  MakeHub(options);
  for (int i = 0; i < 10; ++i) Apply(PutReq("k", std::to_string(i)));
  auto id = hub_->Watch(Prefix("k", 2));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE((*store_)->Apply(++index_, CompactReq(8))->status.ok());
  auto batch = hub_->Poll(*id, 10);
  ASSERT_FALSE(batch.empty());
  EXPECT_TRUE(batch.back().canceled());
  EXPECT_EQ(batch.back().compact_revision(), 8);
  EXPECT_EQ(hub_->watcher_count(), 0u);
}

// A snapshot restore makes every watcher re-read from storage. One that asked to start beyond the
// store's revision has nothing to read there yet: it must still start where it asked, not at the
// revision after the restored one (which is where catching up used to leave it).
TEST_F(WatchHubTest, RestoreNeverMovesAFutureWatchBackwards) {
  MakeHub();
  for (int i = 0; i < 49; ++i) Apply(PutReq("k", std::to_string(i)));  // revisions 2..50
  ASSERT_EQ((*store_)->revision(), 50);
  auto id = hub_->Watch(Prefix("k", 100));
  ASSERT_TRUE(id.ok());
  hub_->OnRestore();
  EXPECT_TRUE(Drain(*id).empty());
  Apply(PutReq("k", "51"));
  EXPECT_TRUE(Drain(*id).empty()) << "revision 51 reached a watch that starts at 100";
  for (int rev = 52; rev <= 101; ++rev) Apply(PutReq("k", std::to_string(rev)));
  auto got = Drain(*id);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(std::get<0>(got[0]), 100);
  EXPECT_EQ(std::get<0>(got[1]), 101);
}

TEST_F(WatchHubTest, ProgressNotificationCarriesTheCurrentRevision) {
  MakeHub();
  auto id = hub_->Watch(Prefix("k"));
  Apply(PutReq("other", "1"));
  hub_->RequestProgress(*id);
  auto batch = hub_->Poll(*id, 10);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].events_size(), 0);
  EXPECT_EQ(batch[0].header().revision(), 2);
}

}  // namespace
}  // namespace pharos::kv::testing
