#include "raft/read_only.h"

#include <gtest/gtest.h>

namespace pharos::raft {
namespace {

TEST(ReadOnlyTest, AckOfANewerContextAlsoConfirmsOlderRequests) {
  ReadOnly ro;
  ro.Add("a", 5, 1, 1);
  ro.Add("b", 6, 2, 1);
  EXPECT_EQ(ro.LastPendingContext(), "b");
  const std::set<uint64_t>* acks = ro.RecvAck(3, "b");
  ASSERT_NE(acks, nullptr);
  EXPECT_EQ(*acks, (std::set<uint64_t>{1, 3}));
  auto released = ro.Release("b");
  ASSERT_EQ(released.size(), 2u);
  EXPECT_EQ(released[0].context, "a");
  EXPECT_EQ(released[0].index, 5u);
  EXPECT_EQ(released[1].from, 2u);
  EXPECT_TRUE(ro.Empty());
}

TEST(ReadOnlyTest, AckOfAnOlderContextDoesNotConfirmNewerRequests) {
  ReadOnly ro;
  ro.Add("a", 5, 1, 1);
  ro.Add("b", 6, 1, 1);
  ro.RecvAck(2, "a");
  const std::set<uint64_t>* b = ro.RecvAck(3, "b");
  EXPECT_EQ(*b, (std::set<uint64_t>{1, 3}));  // node 2 answered a heartbeat sent before "b"
  EXPECT_EQ(ro.RecvAck(2, "gone"), nullptr);  // unknown: ignored
}

}  // namespace
}  // namespace pharos::raft
