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

// Five closed generations of three puts and a tombstone (revisions 1-20), then an open one
// (21, 22): many revisions per key, kept out of line, through two compactions.
TEST(KeyIndexTest, LongHistoryAcrossGenerationsAndCompactions) {
  KeyIndex ki;
  for (int64_t g = 0; g < 5; ++g) {
    for (int64_t i = 1; i <= 3; ++i) ki.Put({4 * g + i, 0}, 4 * g + 1, i, 0);
    ki.Tombstone({4 * g + 4, 0});
    EXPECT_FALSE(ki.Live());
  }
  ki.Put({21, 0}, 21, 1, 7);
  ki.Put({22, 0}, 21, 2, 7);
  for (int64_t at = 1; at <= 22; ++at) {
    if (at <= 20 && at % 4 == 0) {
      EXPECT_FALSE(ki.Get(at).has_value()) << at;
    } else {
      ASSERT_TRUE(ki.Get(at).has_value()) << at;
      EXPECT_EQ(ki.Get(at)->main, at);
    }
  }
  EXPECT_EQ(ki.created(), 21);
  EXPECT_EQ(ki.version(), 2);
  EXPECT_EQ(ki.lease(), 7);

  std::vector<std::pair<Revision, bool>> obsolete;
  EXPECT_FALSE(ki.Compact(10, &obsolete));
  // Generations ended at 4 and 8 go whole (their tombstones flagged); 9 is hidden by 10.
  ASSERT_EQ(obsolete.size(), 9u);
  for (size_t i = 0; i < obsolete.size(); ++i) {
    EXPECT_EQ(obsolete[i].first.main, static_cast<int64_t>(i + 1));
    EXPECT_EQ(obsolete[i].second, i == 3 || i == 7) << i;
  }
  EXPECT_EQ(ki.Get(10)->main, 10);
  EXPECT_EQ(ki.Get(11)->main, 11);
  EXPECT_FALSE(ki.Get(12).has_value());
  EXPECT_EQ(ki.Get(22)->main, 22);

  obsolete.clear();
  EXPECT_FALSE(ki.Compact(30, &obsolete));
  ASSERT_EQ(obsolete.size(), 12u);  // 10-20 and 21, hidden by 22
  EXPECT_EQ(obsolete.back().first.main, 21);
  EXPECT_EQ(ki.Get(30)->main, 22);
  EXPECT_TRUE(ki.Live());
  EXPECT_EQ(ki.created(), 21);

  ki.Tombstone({23, 0});
  obsolete.clear();
  EXPECT_TRUE(ki.Compact(23, &obsolete));
  EXPECT_EQ(obsolete.size(), 2u);
}

}  // namespace
}  // namespace pharos::kv
