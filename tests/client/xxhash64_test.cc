#include "client/xxhash64.h"

#include <gtest/gtest.h>

#include <bit>
#include <string>

namespace pharos::client {
namespace {

TEST(XxHash64Test, MatchesTheReferenceImplementation) {
  // Values from the reference libxxhash's XXH64; the inputs cover every tail path (none, 1-3
  // bytes, 4 bytes, 8-byte words) with and without 32-byte stripes.
  EXPECT_EQ(XxHash64(""), 0xEF46DB3751D8E999ULL);
  EXPECT_EQ(XxHash64("a"), 0xD24EC4F1A98C6E5BULL);
  EXPECT_EQ(XxHash64("abc"), 0x44BC2CF5AD770999ULL);
  EXPECT_EQ(XxHash64("xxhash", 20141025), 0xB559B98D844E0635ULL);
  EXPECT_EQ(XxHash64("Nobody inspects the spammish repetition"), 0xFBCEA83C8A378BF1ULL);
  const std::string long_input = "0123456789abcdef0123456789abcdef0123456789abcdef0123";
  EXPECT_EQ(XxHash64(long_input), 0x40BCE807F4ED7267ULL);
  EXPECT_EQ(XxHash64(long_input, 7), 0x237224FB959918DCULL);
}

TEST(XxHash64Test, NeighbouringKeysDifferInAboutHalfTheBits) {
  // Ring placement needs "user-1" and "user-2" to land far apart.
  int total_bits = 0;
  constexpr int kPairs = 1000;
  for (int i = 0; i < kPairs; ++i) {
    const uint64_t a = XxHash64("user-" + std::to_string(i));
    const uint64_t b = XxHash64("user-" + std::to_string(i + 1));
    total_bits += std::popcount(a ^ b);
  }
  EXPECT_NEAR(total_bits / double(kPairs), 32.0, 1.0);
}

}  // namespace
}  // namespace pharos::client
