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
  EXPECT_EQ(*lessor.RemainingSeconds(1), 10);
  EXPECT_EQ(*lessor.RemainingSeconds(2), 3);
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
  EXPECT_EQ(*lessor.RemainingSeconds(7), 1);
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

// A deposed leader's clock no longer counts: it must not answer TimeToLive from it (etcd returns
// an error too, PR #17642); the server answers NOT_LEADER, as for a keepalive.
TEST(LessorTest, DemotedLessorAnswersNoTimeToLive) {
  FakeClock clock;
  Lessor lessor(&clock);
  lessor.Promote({Record(1, 10)});
  ASSERT_TRUE(lessor.RemainingSeconds(1).ok());
  lessor.Demote();
  EXPECT_EQ(lessor.RemainingSeconds(1).status().code(), StatusCode::kNotLeader);
  EXPECT_EQ(lessor.RemainingSeconds(99).status().code(), StatusCode::kNotLeader);
}

// As etcd reports it: whole seconds, truncated. 9.5 s left is 9, not 10.
TEST(LessorTest, RemainingSecondsAreTruncated) {
  FakeClock clock;
  Lessor lessor(&clock);
  lessor.Promote({Record(1, 10)});
  clock.Advance(milliseconds(500));
  EXPECT_EQ(*lessor.RemainingSeconds(1), 9);
  clock.Advance(milliseconds(9499));
  EXPECT_EQ(*lessor.RemainingSeconds(1), 0);
  EXPECT_EQ(*lessor.RemainingSeconds(99), -1);
}

// A TTL whose expiry does not fit the clock's nanoseconds (a lease granted before grants were
// capped at kMaxLeaseTtlSeconds, taken up again at every Promote) must not wrap into an expiry in
// the past: the lease would be revoked at once, its keys with it.
TEST(LessorTest, AHugeTtlNeverExpiresAtOnce) {
  FakeClock clock;
  Lessor lessor(&clock);
  lessor.Promote({Record(1, 10'000'000'000), Record(2, INT64_MAX)});
  lessor.OnGrant(3, 9'000'000'000);
  clock.Advance(seconds(3600));
  EXPECT_TRUE(lessor.Expired(10).empty());
  EXPECT_GT(*lessor.RemainingSeconds(1), 9'000'000'000);
  EXPECT_GT(*lessor.RemainingSeconds(3), 8'999'990'000);
  ASSERT_TRUE(lessor.Renew(2).ok());
  EXPECT_TRUE(lessor.Expired(10).empty());
}

TEST(LessorTest, ExpiredListsOldestFirstUpToMax) {
  FakeClock clock;
  Lessor lessor(&clock);
  lessor.Promote({Record(1, 3), Record(2, 1), Record(3, 2)});
  clock.Advance(seconds(5));
  EXPECT_EQ(lessor.Expired(2), (std::vector<int64_t>{2, 3}));
}

TEST(LessorTest, ExtendMovesEveryExpiryAndKeepsTheirOrder) {
  FakeClock clock;
  Lessor lessor(&clock);
  lessor.Promote({Record(1, 3), Record(2, 1), Record(3, INT64_MAX)});
  clock.Advance(seconds(2));
  ASSERT_EQ(lessor.Expired(10), (std::vector<int64_t>{2}));
  lessor.Extend(seconds(2));
  EXPECT_TRUE(lessor.Expired(10).empty());
  EXPECT_EQ(*lessor.RemainingSeconds(1), 3);              // 3 s from the start, 2 s more, 2 s gone
  EXPECT_GT(*lessor.RemainingSeconds(3), 9'000'000'000);  // capped, not wrapped
  clock.Advance(seconds(2));
  EXPECT_EQ(lessor.Expired(10), (std::vector<int64_t>{2}));
  clock.Advance(seconds(2));
  EXPECT_EQ(lessor.Expired(10), (std::vector<int64_t>{2, 1}));
}

}  // namespace
}  // namespace pharos::kv
