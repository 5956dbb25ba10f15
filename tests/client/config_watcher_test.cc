// The typed parsers behind ConfigWatcher (its live behaviour is a process test: SdkTest).
#include "client/config_watcher.h"

#include <gtest/gtest.h>

namespace pharos::client {
namespace {

using std::chrono::milliseconds;

TEST(ConfigWatcherTest, IntegersParseWholeOrNotAtAll) {
  EXPECT_EQ(ParseInt("42"), 42);
  EXPECT_EQ(ParseInt("-7"), -7);
  EXPECT_EQ(ParseInt(""), std::nullopt);
  EXPECT_EQ(ParseInt("12abc"), std::nullopt);
  EXPECT_EQ(ParseInt(" 1"), std::nullopt);
  EXPECT_EQ(ParseInt("99999999999999999999"), std::nullopt);
}

TEST(ConfigWatcherTest, DoublesParseWholeAndFinite) {
  EXPECT_EQ(ParseDouble("0.25"), 0.25);
  EXPECT_EQ(ParseDouble("1e3"), 1000.0);
  EXPECT_EQ(ParseDouble("1.5x"), std::nullopt);
  EXPECT_EQ(ParseDouble("inf"), std::nullopt);
  EXPECT_EQ(ParseDouble(""), std::nullopt);
}

TEST(ConfigWatcherTest, BooleansInTheUsualSpellings) {
  for (const char* t : {"true", "TRUE", "yes", "On", "1"}) EXPECT_EQ(ParseBool(t), true) << t;
  for (const char* f : {"false", "No", "off", "0"}) EXPECT_EQ(ParseBool(f), false) << f;
  EXPECT_EQ(ParseBool("maybe"), std::nullopt);
  EXPECT_EQ(ParseBool(""), std::nullopt);
}

TEST(ConfigWatcherTest, DurationsWithUnits) {
  EXPECT_EQ(ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(ParseDuration("2m"), milliseconds(120'000));
  EXPECT_EQ(ParseDuration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(ParseDuration("250"), std::nullopt);  // a unit is required
  EXPECT_EQ(ParseDuration("ms"), std::nullopt);
  EXPECT_EQ(ParseDuration("-1s"), std::nullopt);
  EXPECT_EQ(ParseDuration("5d"), std::nullopt);
}

}  // namespace
}  // namespace pharos::client
