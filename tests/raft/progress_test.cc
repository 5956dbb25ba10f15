#include "raft/progress.h"

#include <gtest/gtest.h>

namespace pharos::raft {
namespace {

TEST(ProgressTest, MaybeUpdateRaisesMatchAndNext) {
  Progress pr(5, 8, 0, false);
  EXPECT_TRUE(pr.MaybeUpdate(3));
  EXPECT_EQ(pr.match, 3u);
  EXPECT_EQ(pr.next, 5u);  // next never goes back
  EXPECT_FALSE(pr.MaybeUpdate(2));
  EXPECT_TRUE(pr.MaybeUpdate(9));
  EXPECT_EQ(pr.next, 10u);
}

TEST(ProgressTest, ProbeBacksOffToTheHintOnlyForTheLatestProbe) {
  Progress pr(10, 8, 0, false);        // probing index 9
  EXPECT_FALSE(pr.MaybeDecrTo(5, 3));  // a stale rejection of another probe
  EXPECT_TRUE(pr.MaybeDecrTo(9, 4));
  EXPECT_EQ(pr.next, 5u);  // hint + 1
  pr.match = 6;
  pr.next = 10;
  EXPECT_TRUE(pr.MaybeDecrTo(9, 2));
  EXPECT_EQ(pr.next, 7u);  // never below match + 1
}

TEST(ProgressTest, ReplicateIgnoresRejectionsAtOrBelowMatch) {
  Progress pr(1, 8, 0, false);
  pr.MaybeUpdate(10);
  pr.BecomeReplicate();
  pr.SentEntries(15, 100);
  EXPECT_FALSE(pr.MaybeDecrTo(10, 3));
  EXPECT_TRUE(pr.MaybeDecrTo(12, 3));
  EXPECT_EQ(pr.next, 11u);
}

TEST(ProgressTest, PausedStates) {
  Progress pr(1, 2, 0, false);
  EXPECT_FALSE(pr.IsPaused());
  pr.SentEntries(1, 10);  // probe: one message until it is answered
  EXPECT_TRUE(pr.IsPaused());
  pr.BecomeReplicate();
  pr.SentEntries(2, 10);
  EXPECT_FALSE(pr.IsPaused());
  pr.SentEntries(3, 10);
  EXPECT_TRUE(pr.IsPaused());  // window full
  pr.BecomeSnapshot(20);
  EXPECT_TRUE(pr.IsPaused());
  pr.BecomeProbe();
  EXPECT_EQ(pr.next, 21u);  // resumes after the snapshot
}

}  // namespace
}  // namespace pharos::raft
