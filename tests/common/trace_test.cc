#include "common/trace.h"

#include <gtest/gtest.h>

#include <set>

namespace pharos {
namespace {

TEST(TraceTest, FreshTraceparentsAreWellFormedAndDistinct) {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const std::string tp = NewTraceparent();
    const std::string id = TraceIdOf(tp);
    ASSERT_EQ(id.size(), 32u) << tp;
    EXPECT_EQ(tp.substr(3, 32), id);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 100u);
}

TEST(TraceTest, TheTraceIdOfTheSpecExample) {
  EXPECT_EQ(TraceIdOf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(TraceTest, MalformedTraceparentsAreIgnored) {
  EXPECT_EQ(TraceIdOf(""), "");
  EXPECT_EQ(TraceIdOf("garbage"), "");
  // Upper case, an all-zero trace or parent id, the forbidden version ff, a wrong separator.
  EXPECT_EQ(TraceIdOf("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"), "");
  EXPECT_EQ(TraceIdOf("00-00000000000000000000000000000000-00f067aa0ba902b7-01"), "");
  EXPECT_EQ(TraceIdOf("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"), "");
  EXPECT_EQ(TraceIdOf("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), "");
  EXPECT_EQ(TraceIdOf("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), "");
  // Version 00 has exactly four fields; a later version may carry more.
  EXPECT_EQ(TraceIdOf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"), "");
  EXPECT_EQ(TraceIdOf("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"),
            "4bf92f3577b34da6a3ce929d0e0e4736");
}

}  // namespace
}  // namespace pharos
