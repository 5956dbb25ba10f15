#include "raft/inflights.h"

#include <gtest/gtest.h>

namespace pharos::raft {
namespace {

TEST(InflightsTest, FullByCount) {
  Inflights in(3, 0);
  in.Add(1, 10);
  in.Add(2, 10);
  EXPECT_FALSE(in.Full());
  in.Add(3, 10);
  EXPECT_TRUE(in.Full());
  in.FreeLE(2);
  EXPECT_EQ(in.Count(), 1);
  EXPECT_FALSE(in.Full());
}

TEST(InflightsTest, FullByBytes) {
  Inflights in(100, 1000);
  in.Add(1, 600);
  EXPECT_FALSE(in.Full());
  in.Add(2, 500);
  EXPECT_TRUE(in.Full());
  in.FreeLE(1);
  EXPECT_FALSE(in.Full());
}

TEST(InflightsTest, FreeFirstOneAndReset) {
  Inflights in(2, 0);
  in.Add(4, 1);
  in.Add(7, 1);
  in.FreeFirstOne();
  EXPECT_EQ(in.Count(), 1);
  in.Reset();
  EXPECT_EQ(in.Count(), 0);
}

}  // namespace
}  // namespace pharos::raft
