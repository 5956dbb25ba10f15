// Tests of tools/pharosctl/flags.cc: the flag values etcdctl users type, and the ids pharosctl
// prints coming back through the parsers unchanged.
#include "tools/pharosctl/flags.h"

#include <gtest/gtest.h>

namespace pharos::pharosctl {
namespace {

using std::chrono::milliseconds;

TEST(FlagsTest, DurationsInGoSyntax) {
  EXPECT_EQ(*ParseDuration("5s"), milliseconds(5000));
  EXPECT_EQ(*ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*ParseDuration("1m30s"), milliseconds(90000));
  EXPECT_EQ(*ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(*ParseDuration("2h"), milliseconds(7200000));
  EXPECT_EQ(*ParseDuration("1500us"), milliseconds(2));  // rounded up, never to zero
  EXPECT_EQ(*ParseDuration("1ns"), milliseconds(1));
  for (const char* bad : {"", "5", "s", "5x", "-1s", "0s", "1.2.3s", "5 s", "ms5"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

TEST(FlagsTest, LeaseIdsRoundTripInHex) {
  const int64_t id = 0x694d77aa9e38260fLL;
  EXPECT_EQ(LeaseHex(id), "694d77aa9e38260f");
  EXPECT_EQ(*ParseLeaseId(LeaseHex(id)), id);
  EXPECT_EQ(LeaseHex(255), "00000000000000ff");
  EXPECT_EQ(*ParseLeaseId("ff"), 255);
  EXPECT_EQ(*ParseLeaseId("0xFF"), 255);
  EXPECT_EQ(*ParseLeaseId("0"), 0);
  for (const char* bad : {"", "0x", "xyz", "12 3", "-1", "8000000000000000", "11112222333344445"}) {
    EXPECT_FALSE(ParseLeaseId(bad).ok()) << bad;
  }
}

TEST(FlagsTest, MemberIdsRoundTripInHex) {
  const uint64_t id = 0x8e9e05c52164694dULL;  // above INT64_MAX: member ids use all 64 bits
  EXPECT_EQ(MemberHex(id), "8e9e05c52164694d");
  EXPECT_EQ(*ParseMemberId(MemberHex(id)), id);
  EXPECT_EQ(MemberHex(0xab), "ab");
  EXPECT_FALSE(ParseMemberId("g1").ok());
}

TEST(FlagsTest, EndpointsToleratePlainHttpAndSpaces) {
  auto eps = ParseEndpoints("127.0.0.1:2379, http://10.0.0.2:2379/,,host:1");
  ASSERT_TRUE(eps.ok()) << eps.status().ToString();
  EXPECT_EQ(*eps, (std::vector<std::string>{"127.0.0.1:2379", "10.0.0.2:2379", "host:1"}));
  EXPECT_FALSE(ParseEndpoints("https://10.0.0.1:2379").ok());  // no TLS: say so, not hang
  EXPECT_FALSE(ParseEndpoints("10.0.0.1").ok());
  EXPECT_FALSE(ParseEndpoints("10.0.0.1:0").ok());
  EXPECT_FALSE(ParseEndpoints("").ok());
}

TEST(FlagsTest, HostPort) {
  auto hp = ParseHostPort("10.0.0.1:8080");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "10.0.0.1");
  EXPECT_EQ(hp->port, 8080);
  auto v6 = ParseHostPort("[::1]:80");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  for (const char* bad : {"host", ":80", "host:", "host:65536", "host:8o", "host:-1"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

TEST(FlagsTest, Integers) {
  EXPECT_EQ(*ParseInt("42"), 42);
  EXPECT_EQ(*ParseInt("-3", /*allow_negative=*/true), -3);
  EXPECT_FALSE(ParseInt("-3").ok());
  EXPECT_FALSE(ParseInt("4x").ok());
  EXPECT_FALSE(ParseInt("").ok());
  EXPECT_FALSE(ParseInt("99999999999999999999").ok());
}

}  // namespace
}  // namespace pharos::pharosctl
