// Tests of common/duration.cc: Go's duration syntax, read one way for every flag and config value.
#include "common/duration.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

using namespace std::chrono_literals;

std::chrono::nanoseconds Parsed(std::string_view text,
                                std::optional<std::chrono::nanoseconds> bare = std::nullopt) {
  auto d = ParseDuration(text, bare);
  EXPECT_TRUE(d.ok()) << text << ": " << d.status().ToString();
  return d.ok() ? *d : -1ns;
}

TEST(DurationTest, GoSyntaxWithEveryUnit) {
  EXPECT_EQ(Parsed("5s"), 5s);
  EXPECT_EQ(Parsed("500ms"), 500ms);
  EXPECT_EQ(Parsed("1m30s"), 90s);
  EXPECT_EQ(Parsed("1h2m3s4ms5us6ns"), 1h + 2min + 3s + 4ms + 5us + 6ns);
  EXPECT_EQ(Parsed("1.5s"), 1500ms);
  EXPECT_EQ(Parsed(".5s"), 500ms);
  EXPECT_EQ(Parsed("7µs"), 7us);
  EXPECT_EQ(Parsed("72h"), 72h);
  EXPECT_EQ(Parsed("0"), 0ns);  // as in Go, zero needs no unit
  EXPECT_EQ(Parsed("0s"), 0ns);
}

TEST(DurationTest, ABareNumberMeansTheCallersUnitOrIsRefused) {
  EXPECT_EQ(Parsed("250", 1ms), 250ms);
  EXPECT_EQ(Parsed("1.5", std::chrono::hours(1)), 90min);
  EXPECT_EQ(Parsed("2s", std::chrono::hours(1)), 2s);  // a unit still wins
  EXPECT_FALSE(ParseDuration("250").ok());
  // Only a lone number: a unitless tail after a pair is a typo, whatever the caller allows.
  EXPECT_FALSE(ParseDuration("1h30", 1ms).ok());
}

TEST(DurationTest, WhatStrtodWouldTakeIsRefusedWithTheReason) {
  for (const char* bad : {"", "s", "5x", "5d", "-1s", "+1s", "1.2.3s", "5 s", " 5s", "5s ", "ms5",
                          "0x10s", "1e3s", "inf", "nan", "1h-5m"}) {
    EXPECT_FALSE(ParseDuration(bad, 1ms).ok()) << "'" << bad << "'";
  }
  EXPECT_NE(ParseDuration("5d").status().message().find("unknown unit 'd'"), std::string::npos);
  EXPECT_NE(ParseDuration("-1s").status().message().find("negative"), std::string::npos);
  EXPECT_NE(ParseDuration("99999999999h").status().message().find("too long"), std::string::npos);
}

}  // namespace
}  // namespace pharos
