// Tests of tools/pharosctl/flags.cc: the flag values etcdctl users type, the ids pharosctl
// prints coming back through the parsers unchanged, and a VALUE read from stdin.
#include "tools/pharosctl/flags.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

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

TEST(FlagsTest, LeaseTtlsUpToEtcdsMaximum) {
  EXPECT_EQ(*ParseLeaseTtl("1"), 1);
  EXPECT_EQ(*ParseLeaseTtl("9000000000"), kMaxLeaseTtlSeconds);
  auto above = ParseLeaseTtl("9000000001");
  ASSERT_FALSE(above.ok());
  EXPECT_NE(above.status().message().find("at most 9000000000 seconds"), std::string::npos)
      << above.status().message();
  for (const char* bad : {"", "0", "-5", "1.5", "10s", "99999999999999999999"}) {
    EXPECT_FALSE(ParseLeaseTtl(bad).ok()) << bad;
  }
}

TEST(FlagsTest, ARangeEndsOneWayAtMost) {
  EXPECT_TRUE(CheckRangeEnd("", false, false).ok());
  EXPECT_TRUE(CheckRangeEnd("z", false, false).ok());
  EXPECT_TRUE(CheckRangeEnd("", true, false).ok());
  EXPECT_TRUE(CheckRangeEnd("", false, true).ok());
  EXPECT_EQ(CheckRangeEnd("", true, true).message(),
            "--prefix and --from-key cannot be set at the same time");
  EXPECT_EQ(CheckRangeEnd("z", true, false).message(),
            "--prefix and RANGE_END cannot be set at the same time");
  EXPECT_EQ(CheckRangeEnd("z", false, true).message(),
            "--from-key and RANGE_END cannot be set at the same time");
}

// A pipe holding `text`, its write end closed: what a shell hands `put KEY` as stdin.
int PipeOf(const std::string& text) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  EXPECT_EQ(write(fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fds[1]);
  return fds[0];
}

TEST(FlagsTest, ValueFromStdinIsAllOfItByteForByte) {
  const std::string value("line 1\nline 2\n\0 and a NUL\n", 26);
  const int fd = PipeOf(value);
  auto read = ReadValueFromStdin(fd);
  close(fd);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, value);
  // Bigger than one read.
  const std::string big(200000, 'v');
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::thread writer([&] {
    EXPECT_EQ(write(fds[1], big.data(), big.size()), static_cast<ssize_t>(big.size()));
    close(fds[1]);
  });
  auto all = ReadValueFromStdin(fds[0]);
  writer.join();
  close(fds[0]);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, big);
}

TEST(FlagsTest, AnEmptyOrUnreadableStdinIsNoValue) {
  const int empty = PipeOf("");
  auto nothing = ReadValueFromStdin(empty);
  close(empty);
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(nothing.status().message().find("no available argument and stdin"), std::string::npos)
      << nothing.status().message();
  // A read that fails (stdin redirected from a directory; stdin closed) is no value either.
  const int dir = open(std::filesystem::temp_directory_path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  auto from_dir = ReadValueFromStdin(dir);
  close(dir);
  ASSERT_FALSE(from_dir.ok());
  EXPECT_NE(from_dir.status().message().find("Is a directory"), std::string::npos)
      << from_dir.status().message();
  EXPECT_FALSE(ReadValueFromStdin(-1).ok());
}

}  // namespace
}  // namespace pharos::pharosctl
