// The registry workload's judgement on hand-made histories: a view that drops a live instance and
// one that keeps a deregistered one are both caught, a correct history passes, and expiry is held
// to TTL + grace.
#include "jepsen/registry_check.h"

#include <gtest/gtest.h>

#include <sstream>

namespace pharos::jepsen {
namespace {

constexpr int64_t kS = 1'000'000'000;  // a second in history time
constexpr int64_t kView = 1'000'000;   // the discovery client's process

// One event line; times in milliseconds for readability.
std::string Line(int64_t process, const std::string& type, const std::string& f,
                 const std::string& key, const std::string& value, int64_t ms) {
  return "{\"process\":" + std::to_string(process) + ",\"type\":\"" + type + "\",\"f\":\"" + f +
         "\",\"key\":\"" + key + "\",\"value\":" + value +
         ",\"time\":" + std::to_string(ms * 1'000'000) + "}\n";
}

std::string Seen(const std::string& key, bool added, int64_t ms) {
  return Line(kView, "ok", "discover", key, added ? "\"added\"" : "\"removed\"", ms);
}

Verdict Check(const std::string& history, int64_t end_s = 30) {
  std::istringstream in(history);
  auto v = CheckRegistryHistory(in, {.grace_ns = 2 * kS, .end_ns = end_s * kS, .views = {kView}});
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : Verdict{};
}

// a: lives to the end; b: deregistered at 10 s (Deregister); c: dies silently at 12 s (TTL 3),
// seen gone at 14 s (in each test).
std::string Registered() {
  std::string h;
  h += Line(1, "invoke", "register", "/services/s/a", R"({"ttl":3})", 1000);
  h += Line(1, "ok", "register", "/services/s/a", R"({"lease":11,"revision":2,"ttl":3})", 1100);
  h += Seen("/services/s/a", true, 1150);
  h += Line(2, "invoke", "register", "/services/s/b", R"({"ttl":3})", 2000);
  h += Line(2, "ok", "register", "/services/s/b", R"({"lease":12,"revision":3,"ttl":3})", 2100);
  h += Seen("/services/s/b", true, 2200);
  h += Line(3, "invoke", "register", "/services/s/c", R"({"ttl":3})", 3000);
  h += Line(3, "ok", "register", "/services/s/c", R"({"lease":13,"revision":4,"ttl":3})", 3100);
  h += Seen("/services/s/c", true, 3150);
  return h;
}

std::string Deregister() {
  std::string h;
  h += Line(2, "invoke", "deregister", "/services/s/b", R"({"lease":12})", 10000);
  h += Line(2, "ok", "deregister", "/services/s/b", R"({"lease":12,"revision":5})", 10100);
  return h;
}

TEST(RegistryCheckTest, ViewsThatFollowTheHistoryAreValid) {
  std::string h = Registered() + Deregister();
  h += Seen("/services/s/b", false, 10200);
  h += Line(3, "invoke", "expire", "/services/s/c", R"({"lease":13,"alive_until":14000000000})",
            12000);
  h += Line(3, "ok", "expire", "/services/s/c", R"({"lease":13,"revision":6})", 14200);
  h += Seen("/services/s/c", false, 14300);
  const Verdict v = Check(h);
  EXPECT_TRUE(v.valid) << v.summary << (v.problems.empty() ? "" : "\n" + v.problems[0]);
  EXPECT_NE(v.json.find("\"grace_ms\":2000"), std::string::npos) << v.json;
  EXPECT_NE(v.summary.find("grace 2000 ms"), std::string::npos) << v.summary;
}

TEST(RegistryCheckTest, ALostInstanceAndAStaleOneAreBothFlagged) {
  std::string h = Registered();
  // The view drops a, which nobody deregistered and whose lease lives: lost.
  h += Seen("/services/s/a", false, 8000);
  h += Deregister();
  // ... and never drops b, deregistered at 10.1 s: stale from 12.1 s on.
  h += Line(3, "invoke", "expire", "/services/s/c", R"({"lease":13,"alive_until":14000000000})",
            12000);
  h += Line(3, "ok", "expire", "/services/s/c", R"({"lease":13,"revision":6})", 14200);
  h += Seen("/services/s/c", false, 14300);
  const Verdict v = Check(h);
  EXPECT_FALSE(v.valid);
  ASSERT_EQ(v.problems.size(), 2u) << v.summary;
  int lost = 0, stale = 0;
  for (const auto& p : v.problems) {
    if (p.rfind("lost: /services/s/a", 0) == 0) ++lost;
    if (p.rfind("stale: /services/s/b", 0) == 0) ++stale;
  }
  EXPECT_EQ(lost, 1) << v.problems[0];
  EXPECT_EQ(stale, 1) << v.problems[1];
  EXPECT_NE(v.json.find("\"lost\":1"), std::string::npos) << v.json;
  EXPECT_NE(v.json.find("\"stale\":1"), std::string::npos) << v.json;
}

TEST(RegistryCheckTest, AnInstanceThatNeverArrivesIsLost) {
  std::string h;
  h += Line(1, "invoke", "register", "/services/s/a", R"({"ttl":3})", 1000);
  h += Line(1, "ok", "register", "/services/s/a", R"({"lease":11,"revision":2,"ttl":3})", 1100);
  EXPECT_FALSE(Check(h).valid);
  // Within the grace nothing is required yet.
  EXPECT_TRUE(Check(h, 3).valid);
}

TEST(RegistryCheckTest, ADeadInstanceShownPastTtlPlusGraceIsStale) {
  std::string h = Registered() + Deregister();
  h += Seen("/services/s/b", false, 10200);
  // c's keepalives stop at 12 s; the cluster expires it at 14.2 s, but the view keeps it.
  h += Line(3, "invoke", "expire", "/services/s/c", R"({"lease":13,"alive_until":14000000000})",
            12000);
  h += Line(3, "ok", "expire", "/services/s/c", R"({"lease":13,"revision":6})", 14200);
  const Verdict v = Check(h);
  ASSERT_EQ(v.problems.size(), 1u) << v.summary;
  EXPECT_EQ(v.problems[0].rfind("stale: /services/s/c seen expired", 0), 0u) << v.problems[0];
  // Dropped within the grace of the expiry it is fine.
  EXPECT_TRUE(Check(h + Seen("/services/s/c", false, 16000)).valid);
}

TEST(RegistryCheckTest, ALeaseTheClusterKeepsPastTtlPlusGraceIsFlagged) {
  std::string h = Registered() + Deregister();
  h += Seen("/services/s/b", false, 10200);
  h += Line(3, "invoke", "expire", "/services/s/c", R"({"lease":13,"alive_until":14000000000})",
            12000);
  h += Line(3, "ok", "expire", "/services/s/c", R"({"lease":13,"revision":6})", 18000);
  h += Seen("/services/s/c", false, 18100);
  const Verdict v = Check(h);
  EXPECT_FALSE(v.valid);
  bool outlived = false, stale = false;
  for (const auto& p : v.problems) {
    outlived |= p.find("outlived") != std::string::npos;
    stale |= p.rfind("stale: /services/s/c", 0) == 0;
  }
  EXPECT_TRUE(outlived && stale) << v.summary;
}

TEST(RegistryCheckTest, AnInstanceNobodyRegisteredIsInvented) {
  const Verdict v = Check(Seen("/services/s/ghost", true, 500));
  EXPECT_FALSE(v.valid);
  EXPECT_NE(v.summary.find("1 invented"), std::string::npos) << v.summary;
}

TEST(RegistryCheckTest, AnInstanceShownBeforeItsRegisterIsInventedWhateverCameFirst) {
  // The view's first change is a removal, which invents nothing; the "added" after it comes
  // before anyone registered the key, and is invented all the same.
  std::string h;
  h += Seen("/services/s/a", false, 500);
  h += Seen("/services/s/a", true, 600);
  h += Line(1, "invoke", "register", "/services/s/a", R"({"ttl":3})", 1000);
  h += Line(1, "ok", "register", "/services/s/a", R"({"lease":11,"revision":2,"ttl":3})", 1100);
  const Verdict v = Check(h);
  EXPECT_FALSE(v.valid);
  ASSERT_EQ(v.problems.size(), 1u) << v.summary;
  EXPECT_NE(v.problems[0].find("showed /services/s/a before any register of it (at 600 ms)"),
            std::string::npos)
      << v.problems[0];
  EXPECT_NE(v.summary.find("1 invented"), std::string::npos) << v.summary;
  // Shown once the register began, it is not.
  std::string after;
  after += Line(1, "invoke", "register", "/services/s/a", R"({"ttl":3})", 1000);
  after += Seen("/services/s/a", false, 1010);
  after += Seen("/services/s/a", true, 1020);
  after += Line(1, "ok", "register", "/services/s/a", R"({"lease":11,"revision":2,"ttl":3})", 1100);
  EXPECT_TRUE(Check(after).valid);
}

TEST(RegistryCheckTest, AnExpiryWithoutItsLeaseDeadlineIsUnreadable) {
  // Without alive_until the lease's deadline would read as 0, and nothing the view dropped
  // after the keepalives stopped would count as lost.
  for (const std::string value : {R"({"lease":13})", R"({"lease":13,"alive_until":"14000000000"})",
                                  R"({"lease":13,"alive_until":1.4e10})", R"(null)"}) {
    std::string h = Registered();
    h += Line(3, "invoke", "expire", "/services/s/c", value, 12000);
    std::istringstream in(h);
    auto v = CheckRegistryHistory(in, {.grace_ns = 2 * kS, .end_ns = 30 * kS, .views = {kView}});
    ASSERT_FALSE(v.ok()) << value;
    EXPECT_NE(v.status().message().find("line 10: expire of /services/s/c without an integer "
                                        "alive_until"),
              std::string::npos)
        << v.status().message();
  }
}

TEST(RegistryCheckTest, UnreadableLinesAreNamed) {
  std::istringstream in(Line(1, "invoke", "register", "/s/a", "{}", 5) + "not json\n");
  auto v = CheckRegistryHistory(in, {});
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("line 2"), std::string::npos);
  std::istringstream back(Line(1, "invoke", "register", "/s/a", "{}", 5) +
                          Line(1, "ok", "register", "/s/a", "{}", 4));
  EXPECT_FALSE(CheckRegistryHistory(back, {}).ok());
}

}  // namespace
}  // namespace pharos::jepsen
