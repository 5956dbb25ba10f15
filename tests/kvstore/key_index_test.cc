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

TEST(KeyIndexTest, RevisionsPastThirtyTwoBitsAndSubRevisionsSurviveGrowthAndCompaction) {
  // Entries keep the main revision as two 32-bit halves and the sub revision beside the
  // tombstone bit: each must come back whole, inline and in the grown array alike.
  KeyIndex ki;
  constexpr int64_t kBase = (int64_t{1} << 32) - 3;  // crosses the halves' boundary
  constexpr int kChanges = 40;                       // grows the array past 32 entries
  for (int i = 0; i < kChanges; ++i) {
    if (i % 10 == 9) {
      ki.Tombstone({kBase + i, 1000 + i});
    } else {
      ki.Put({kBase + i, 1000 + i}, kBase + i, 1, 0);
    }
  }
  for (int i = 0; i < kChanges; ++i) {
    const auto rev = ki.Get(kBase + i);
    if (i % 10 == 9) {
      EXPECT_FALSE(rev.has_value()) << i;
    } else {
      ASSERT_TRUE(rev.has_value()) << i;
      EXPECT_EQ(rev->main, kBase + i);
      EXPECT_EQ(rev->sub, 1000 + i);
    }
  }
  EXPECT_FALSE(ki.Get(kBase - 1).has_value());
  EXPECT_FALSE(ki.Live());  // the last change, 39, is a tombstone

  std::vector<std::pair<Revision, bool>> obsolete;
  EXPECT_FALSE(ki.Compact(kBase + 35, &obsolete));
  // Generations 0-9, 10-19 and 20-29 go whole; 30-34 are hidden by 35.
  ASSERT_EQ(obsolete.size(), 35u);
  for (int i = 0; i < 35; ++i) {
    EXPECT_EQ(obsolete[i].first, (Revision{kBase + i, 1000 + i})) << i;
    EXPECT_EQ(obsolete[i].second, i % 10 == 9) << i;
  }
  EXPECT_EQ(*ki.Get(kBase + 38), (Revision{kBase + 38, 1038}));
  EXPECT_FALSE(ki.Get(kBase + 39).has_value());

  // Compaction left 5 entries (35-39) in a fresh array; appending past each power of two must
  // grow it again, and every entry must read back.
  for (int i = kChanges; i < kChanges + 20; ++i) ki.Put({kBase + i, i}, kBase + i, 1, 0);
  EXPECT_TRUE(ki.Live());
  for (int i = kChanges; i < kChanges + 20; ++i) {
    EXPECT_EQ(*ki.Get(kBase + i), (Revision{kBase + i, i})) << i;
  }
  EXPECT_EQ(*ki.Get(kBase + 38), (Revision{kBase + 38, 1038}));
}

}  // namespace
}  // namespace pharos::kv
