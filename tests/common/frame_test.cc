#include "common/frame.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

TEST(FrameTest, RoundTripsFramesSplitAnywhere) {
  std::string stream;
  AppendFrame(&stream, "hello");
  AppendFrame(&stream, "");
  AppendFrame(&stream, std::string(70000, 'x'));
  FrameDecoder decoder;
  std::vector<std::string> got;
  // Feed one byte at a time: frames must come out whole and in order.
  for (char c : stream) {
    decoder.Append(std::string_view(&c, 1));
    for (;;) {
      auto f = decoder.Next();
      ASSERT_TRUE(f.ok());
      if (!f->has_value()) break;
      got.push_back(**f);
    }
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "hello");
  EXPECT_EQ(got[1], "");
  EXPECT_EQ(got[2].size(), 70000u);
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(FrameTest, AHeaderThenItsPayloadIsTheSameFrame) {
  // The server serializes replies straight after the header; the bytes must be AppendFrame's.
  const std::string payload(70000, 'y');
  std::string whole, in_two;
  AppendFrame(&whole, "first");
  AppendFrame(&whole, payload);
  AppendFrame(&in_two, "first");
  AppendFrameHeader(&in_two, payload.size());
  in_two += payload;
  EXPECT_EQ(in_two, whole);
  FrameDecoder decoder;
  decoder.Append(in_two);
  auto first = decoder.Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ(**first, "first");
  auto second = decoder.Next();
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ(**second, payload);
}

TEST(FrameTest, OversizedFrameIsRefusedBeforeItArrives) {
  FrameDecoder decoder(1024);
  std::string stream;
  AppendFrame(&stream, std::string(2000, 'x'));
  decoder.Append(std::string_view(stream).substr(0, 4));  // only the header so far
  auto f = decoder.Next();
  EXPECT_EQ(f.status().code(), StatusCode::kTooLarge);
}

}  // namespace
}  // namespace pharos
