// The lock workload's judgement on its own: overlapping holds and falling tokens are caught.
#include "jepsen/lock_workload.h"

#include <gtest/gtest.h>

namespace pharos::jepsen {
namespace {

TEST(LockWorkloadTest, DisjointHoldsWithRisingTokensAreValid) {
  auto v = CheckHolds({{1, 10, 100, 200}, {2, 12, 250, 300}, {1, 15, 301, 400}});
  EXPECT_TRUE(v.valid) << v.summary;
}

TEST(LockWorkloadTest, OverlappingHoldsAreCaughtInAnyOrder) {
  auto v = CheckHolds({{2, 12, 150, 300}, {1, 10, 100, 200}});
  EXPECT_FALSE(v.valid);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_NE(v.problems[0].find("at the same time"), std::string::npos);
}

TEST(LockWorkloadTest, ATokenThatDoesNotRiseIsCaught) {
  EXPECT_FALSE(CheckHolds({{1, 10, 100, 200}, {2, 10, 250, 300}}).valid);
  EXPECT_FALSE(CheckHolds({{1, 10, 100, 200}, {2, 9, 250, 300}}).valid);
}

}  // namespace
}  // namespace pharos::jepsen
