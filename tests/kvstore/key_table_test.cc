#include "kvstore/key_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pharos::kv {
namespace {

std::string Key(int i) { return "k" + std::to_string(100000 + i); }

TEST(KeyTableTest, AKeyAddedIsFoundByItsNameAndAnAbsentOneIsNot) {
  KeyTable t;
  t.FindOrAdd("b").Put({2, 0}, 2, 1, 0);
  ASSERT_NE(t.Find("b"), nullptr);
  EXPECT_EQ(t.Find("b")->first, "b");
  EXPECT_TRUE(t.Find("b")->second.Live());
  EXPECT_EQ(t.Find("a"), nullptr);
  EXPECT_EQ(t.Find("bb"), nullptr);
  EXPECT_EQ(t.Find(""), nullptr);
}

TEST(KeyTableTest, FindOrAddOfAKnownKeyReturnsItsIndexUnchanged) {
  KeyTable t;
  t.FindOrAdd("a").Put({2, 0}, 2, 1, 0);
  KeyIndex& again = t.FindOrAdd("a");
  EXPECT_TRUE(again.Live());
  EXPECT_EQ(again.created(), 2);
  EXPECT_EQ(&again, &t.Find("a")->second);
  EXPECT_EQ(t.size(), 1u);
}

TEST(KeyTableTest, EveryKeyIsFoundAfterTheHashIndexGrewAndTheTreeKeepsKeyOrder) {
  KeyTable t;
  constexpr int kKeys = 5000;  // many times the hash index's first capacity: it rehashes
  // Out of order, so the tree's order is its own work.
  for (int i = 0; i < kKeys; ++i) t.FindOrAdd(Key((i * 7919) % kKeys)).Put({i + 1, 0}, i + 1, 1, 0);
  ASSERT_EQ(t.size(), static_cast<size_t>(kKeys));
  for (int i = 0; i < kKeys; ++i) {
    const KeyTable::Entry* e = t.Find(Key(i));
    ASSERT_NE(e, nullptr) << Key(i);
    EXPECT_EQ(e->first, Key(i));
  }
  int i = 0;
  for (const auto& [key, ki] : t) EXPECT_EQ(key, Key(i++));
  EXPECT_EQ(t.lower_bound(Key(10))->first, Key(10));
  EXPECT_EQ(t.lower_bound(Key(105) + "x")->first, Key(106));
}

TEST(KeyTableTest, AnErasedKeyIsGoneFromBothTheTreeAndTheHashIndex) {
  KeyTable t;
  for (int i = 0; i < 100; ++i) t.FindOrAdd(Key(i));
  // Erase every other key, as a compaction erases the keys it empties.
  for (auto it = t.begin(); it != t.end();) {
    const int n = std::stoi(it->first.substr(1)) - 100000;
    it = n % 2 == 0 ? t.erase(it) : std::next(it);
  }
  EXPECT_EQ(t.size(), 50u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(t.Find(Key(i)) != nullptr, i % 2 == 1) << Key(i);
  // Added back, a key is found again, through the hash index and the tree alike.
  KeyIndex& added = t.FindOrAdd(Key(4));
  ASSERT_NE(t.Find(Key(4)), nullptr);
  EXPECT_EQ(&t.Find(Key(4))->second, &added);
  EXPECT_EQ(&t.FindOrAdd(Key(4)), &added);
  EXPECT_EQ(t.size(), 51u);
}

TEST(KeyTableTest, ClearForgetsEveryKey) {
  KeyTable t;
  for (int i = 0; i < 100; ++i) t.FindOrAdd(Key(i));
  t.clear();
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.begin(), t.end());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(t.Find(Key(i)), nullptr);
  KeyIndex& added = t.FindOrAdd(Key(1));
  ASSERT_NE(t.Find(Key(1)), nullptr);
  EXPECT_EQ(&t.Find(Key(1))->second, &added);
  EXPECT_EQ(t.size(), 1u);
}

}  // namespace
}  // namespace pharos::kv
