#include "kvstore/lessor.h"

#include <gtest/gtest.h>

namespace pharos::kv {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

pb::LeaseRecord Record(int64_t id, int64_t ttl) {
  pb::LeaseRecord r;
  r.set_id(id);
  r.set_ttl(ttl);
  return r;
}

TEST(LessorTest, ExpiresOnlyOnThePrimaryAfterTtl) {
  FakeClock clock;
  Lessor lessor(&clock);
  lessor.OnGrant(1, 5);
  clock.Advance(seconds(10));
  EXPECT_TRUE(lessor.Expired(10).empty());  // followers never expire leases
  lessor.Promote({Record(1, 5)});
  clock.Advance(seconds(4));
  EXPECT_TRUE(lessor.Expired(10).empty());
  clock.Advance(seconds(2));
  EXPECT_EQ(lessor.Expired(10), std::vector<int64_t>{1});
  lessor.OnRevoke(1);
  EXPECT_TRUE(lessor.Expired(10).empty());
}

TEST(LessorTest, NewLeaderRestartsEveryLeaseForItsFullTtl) {
  FakeClock clock;
  Lessor lessor(&clock);
  clock.Advance(seconds(100));  // however long the old leader held them
  lessor.Promote({Record(1, 10), Record(2, 3)});
  EXPECT_EQ(lessor.RemainingSeconds(1), 10);
  EXPECT_EQ(lessor.RemainingSeconds(2), 3);
  EXPECT_TRUE(lessor.Expired(10).empty());
}

TEST(LessorTest, KeepaliveRestartsTtlButNotAnExpiredLease) {
  FakeClock clock;
  Lessor lessor(&clock);
  lessor.Promote({Record(7, 5)});
  clock.Advance(seconds(4));
  ASSERT_TRUE(lessor.Renew(7).ok());
  clock.Advance(seconds(4));
  EXPECT_TRUE(lessor.Expired(10).empty());
  EXPECT_EQ(lessor.RemainingSeconds(7), 1);
  clock.Advance(milliseconds(1500));
  EXPECT_EQ(lessor.Renew(7).status().code(), StatusCode::kLeaseNotFound);
  EXPECT_EQ(lessor.Renew(99).status().code(), StatusCode::kLeaseNotFound);
}

TEST(LessorTest, DemotedLessorRefusesKeepalivesAndStopsExpiring) {
  FakeClock clock;
  Lessor lessor(&clock);
  lessor.Promote({Record(1, 1)});
  lessor.Demote();
  EXPECT_EQ(lessor.Renew(1).status().code(), StatusCode::kNotLeader);
  clock.Advance(seconds(5));
  EXPECT_TRUE(lessor.Expired(10).empty());
}

TEST(LessorTest, ExpiredListsOldestFirstUpToMax) {
  FakeClock clock;
  Lessor lessor(&clock);
  lessor.Promote({Record(1, 3), Record(2, 1), Record(3, 2)});
  clock.Advance(seconds(5));
  EXPECT_EQ(lessor.Expired(2), (std::vector<int64_t>{2, 3}));
}

}  // namespace
}  // namespace pharos::kv
