#include "kvstore/key_index.h"

#include <gtest/gtest.h>

namespace pharos::kv {
namespace {

TEST(KeyIndexTest, GetFindsTheRevisionVisibleAtEachPoint) {
  KeyIndex ki;
  ki.Put({2, 0}, 2, 1, 0);
  ki.Put({4, 0}, 2, 2, 0);
  ki.Tombstone({6, 0});
  ki.Put({8, 1}, 8, 1, 0);
  EXPECT_FALSE(ki.Get(1).has_value());
  EXPECT_EQ(ki.Get(3)->main, 2);
  EXPECT_EQ(ki.Get(5)->main, 4);
  EXPECT_FALSE(ki.Get(6).has_value());
  EXPECT_FALSE(ki.Get(7).has_value());
  EXPECT_EQ(ki.Get(100)->main, 8);
  EXPECT_TRUE(ki.Live());
  EXPECT_EQ(ki.created(), 8);
  EXPECT_EQ(ki.version(), 1);
}

TEST(KeyIndexTest, CompactKeepsTheRevisionVisibleAtTheCompactPoint) {
  KeyIndex ki;
  ki.Put({2, 0}, 2, 1, 0);
  ki.Put({4, 0}, 2, 2, 0);
  ki.Put({9, 0}, 2, 3, 0);
  std::vector<std::pair<Revision, bool>> obsolete;
  EXPECT_FALSE(ki.Compact(5, &obsolete));
  ASSERT_EQ(obsolete.size(), 1u);
  EXPECT_EQ(obsolete[0].first.main, 2);
  EXPECT_EQ(ki.Get(5)->main, 4);
  EXPECT_EQ(ki.Get(9)->main, 9);
}

TEST(KeyIndexTest, CompactDropsGenerationsDeletedBeforeThePoint) {
  KeyIndex ki;
  ki.Put({2, 0}, 2, 1, 0);
  ki.Tombstone({3, 0});
  std::vector<std::pair<Revision, bool>> obsolete;
  EXPECT_TRUE(ki.Compact(3, &obsolete));
  ASSERT_EQ(obsolete.size(), 2u);
  EXPECT_TRUE(obsolete[1].second);  // the tombstone
}

}  // namespace
}  // namespace pharos::kv
