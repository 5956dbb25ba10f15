#include "registry/auto_compactor.h"

#include <gtest/gtest.h>

namespace pharos::registry {
namespace {

using std::chrono::milliseconds;
using Mode = AutoCompactionPolicy::Mode;

AutoCompactionPolicy Parsed(const std::string& mode, const std::string& retention) {
  auto p = ParseAutoCompaction(mode, retention);
  EXPECT_TRUE(p.ok()) << mode << " " << retention << ": " << p.status().ToString();
  return p.ok() ? *p : AutoCompactionPolicy{};
}

TEST(AutoCompactorTest, RetentionIsParsedAsEtcdDoesAndBadValuesAreRefused) {
  EXPECT_EQ(Parsed("periodic", "0").mode, Mode::kOff);
  EXPECT_EQ(Parsed("revision", "0").mode, Mode::kOff);
  EXPECT_EQ(Parsed("periodic", "1").period, milliseconds(3600000));  // bare number: hours
  EXPECT_EQ(Parsed("periodic", "72h").period, milliseconds(72 * 3600000LL));
  EXPECT_EQ(Parsed("periodic", "30m").period, milliseconds(30 * 60000));
  EXPECT_EQ(Parsed("periodic", "1.5s").period, milliseconds(1500));
  EXPECT_EQ(Parsed("periodic", "500ms").period, milliseconds(500));
  EXPECT_EQ(Parsed("revision", "1000").retain_revisions, 1000);
  for (const auto& [mode, retention] :
       std::vector<std::pair<std::string, std::string>>{{"hourly", "1"},
                                                        {"periodic", ""},
                                                        {"periodic", "-1"},
                                                        {"periodic", "5d"},
                                                        {"periodic", "abc"},
                                                        {"periodic", "1ms"},
                                                        {"revision", "10s"},
                                                        {"revision", "2.5"}}) {
    EXPECT_FALSE(ParseAutoCompaction(mode, retention).ok()) << mode << " " << retention;
  }
}

TEST(AutoCompactorTest, OffNeverCompacts) {
  AutoCompactor c(AutoCompactionPolicy{});
  EXPECT_FALSE(c.Next({}, 1000000, 0));
}

TEST(AutoCompactorTest, RevisionModeKeepsTheRetentionPlusATenthAtMost) {
  AutoCompactor c(Parsed("revision", "100"));
  const AutoCompactor::TimePoint t0{};
  int64_t compacted = 0;
  EXPECT_FALSE(c.Next(t0, 100, compacted));  // nothing beyond the retention yet
  EXPECT_FALSE(c.Next(t0, 109, compacted));  // 9 over: under a tenth
  auto target = c.Next(t0, 110, compacted);
  ASSERT_TRUE(target);
  EXPECT_EQ(*target, 10);  // exactly the newest 100 revisions kept
  compacted = *target;
  for (int64_t rev = 111; rev < 5000; ++rev) {
    if (auto t = c.Next(t0, rev, compacted)) {
      EXPECT_EQ(*t, rev - 100);
      compacted = *t;
    }
    EXPECT_LE(rev - compacted, 110) << "history grew past retention + a tenth at " << rev;
  }
}

TEST(AutoCompactorTest, PeriodicModeCompactsToTheRevisionOnePeriodAgo) {
  AutoCompactor c(Parsed("periodic", "10s"));
  const AutoCompactor::TimePoint t0{};
  auto at = [&](int ms) { return t0 + milliseconds(ms); };
  // One write per 100 ms: revision = 1 + elapsed / 100 ms.
  int64_t compacted = 0;
  for (int ms = 0; ms < 10000; ms += 100) {
    EXPECT_FALSE(c.Next(at(ms), 1 + ms / 100, compacted)) << "compacted before a period at " << ms;
  }
  auto first = c.Next(at(10000), 101, compacted);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, 1);  // the revision sampled at t0, one period ago
  compacted = *first;
  for (int ms = 10100; ms <= 60000; ms += 100) {
    if (auto t = c.Next(at(ms), 1 + ms / 100, compacted)) {
      EXPECT_GT(*t, compacted);
      compacted = *t;
    }
    // What is kept spans at least one period and at most a period and a tenth (one sample step).
    const int64_t kept = 1 + ms / 100 - compacted;
    EXPECT_GE(kept, 100) << ms;
    EXPECT_LE(kept, 110) << ms;
  }
}

TEST(AutoCompactorTest, AfterLosingLeadershipPeriodicModeWaitsAFullPeriodAgain) {
  AutoCompactor c(Parsed("periodic", "1s"));
  const AutoCompactor::TimePoint t0{};
  for (int ms = 0; ms <= 900; ms += 100) EXPECT_FALSE(c.Next(t0 + milliseconds(ms), ms, 0));
  c.Reset();
  EXPECT_FALSE(c.Next(t0 + milliseconds(1000), 1000, 0));
  EXPECT_FALSE(c.Next(t0 + milliseconds(1900), 1900, 0));
  auto t = c.Next(t0 + milliseconds(2000), 2000, 0);
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, 1000);
}

}  // namespace
}  // namespace pharos::registry
