// The watch workload's judgement on hand-made events: watchers that received what the cluster
// holds pass; a gap, a repeat or a swap is caught as before, and so is an event at the right
// revision that is wrong in itself — another key, a DELETE for a PUT, another value.
#include "jepsen/watch_check.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pharos::jepsen {
namespace {

using Type = WatchedEvent::Type;

// The keys the cluster holds at the end, as the workload reads them (out of revision order).
std::vector<WatchedEvent> FinalState() {
  return {{.mod_revision = 4, .key = "/jepsen/watch/1-0", .value = "v"},
          {.mod_revision = 2, .key = "/jepsen/watch/0-0", .value = "v"},
          {.mod_revision = 3, .key = "/jepsen/watch/0-1", .value = "v"}};
}

// What a correct watcher receives: one PUT per revision, under that revision.
std::vector<WatchedEvent> Delivered() {
  return {{2, 2, "/jepsen/watch/0-0", Type::kPut, "v"},
          {3, 3, "/jepsen/watch/0-1", Type::kPut, "v"},
          {4, 4, "/jepsen/watch/1-0", Type::kPut, "v"}};
}

std::vector<AckedWrite> Acked() { return {{2, "/jepsen/watch/0-0"}, {4, "/jepsen/watch/1-0"}}; }

// The problems when one watcher is correct and the second received `second`.
std::vector<std::string> CheckSecond(const std::vector<WatchedEvent>& second) {
  return CheckWatchEvents(ExpectedWatchEvents(FinalState()), {Delivered(), second}, Acked());
}

TEST(WatchCheckTest, ExpectedEventsArePutsInRevisionOrder) {
  EXPECT_EQ(ExpectedWatchEvents(FinalState()), Delivered());
}

TEST(WatchCheckTest, WatchersThatReceivedWhatTheClusterHoldsPass) {
  const auto problems = CheckSecond(Delivered());
  EXPECT_TRUE(problems.empty()) << problems[0];
}

TEST(WatchCheckTest, TheWrongKeyAtTheRightRevisionIsCaught) {
  auto got = Delivered();
  got[1].key = "/jepsen/watch/9-9";
  const auto problems = CheckSecond(got);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("watcher 1"), std::string::npos) << problems[0];
  EXPECT_NE(problems[0].find("first difference at event 1"), std::string::npos) << problems[0];
  EXPECT_NE(problems[0].find("/jepsen/watch/9-9"), std::string::npos) << problems[0];
}

TEST(WatchCheckTest, ADeleteInsteadOfAPutIsCaught) {
  auto got = Delivered();
  got[2].type = Type::kDelete;
  got[2].value.clear();  // as a DELETE event carries it
  const auto problems = CheckSecond(got);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("first difference at event 2"), std::string::npos) << problems[0];
  EXPECT_NE(problems[0].find("got DELETE"), std::string::npos) << problems[0];
}

TEST(WatchCheckTest, AnotherValueOrModRevisionUnderTheRightRevisionIsCaught) {
  auto wrong_value = Delivered();
  wrong_value[0].value = "w";
  EXPECT_EQ(CheckSecond(wrong_value).size(), 1u);

  auto wrong_mod_revision = Delivered();
  wrong_mod_revision[0].mod_revision = 3;  // the response's revision label still says 2
  EXPECT_EQ(CheckSecond(wrong_mod_revision).size(), 1u);
}

TEST(WatchCheckTest, GapsRepeatsAndSwapsAreStillCaught) {
  auto gap = Delivered();
  gap.erase(gap.begin() + 1);
  auto repeat = Delivered();
  repeat.insert(repeat.begin() + 1, repeat[0]);
  auto swap = Delivered();
  std::swap(swap[0], swap[1]);
  for (const auto& got : {gap, repeat, swap}) {
    const auto problems = CheckSecond(got);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_NE(problems[0].find("watcher 1"), std::string::npos) << problems[0];
  }
}

TEST(WatchCheckTest, AnAcknowledgedWriteMissingOrElsewhereIsCaught) {
  const auto expected = ExpectedWatchEvents(FinalState());
  const auto lost = CheckWatchEvents(expected, {Delivered()}, {{5, "/jepsen/watch/2-0"}});
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_NE(lost[0].find("is lost"), std::string::npos) << lost[0];

  // Acknowledged at revision 3, but the cluster holds that key as written at 4.
  const auto moved = CheckWatchEvents(expected, {Delivered()}, {{3, "/jepsen/watch/1-0"}});
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_NE(moved[0].find("held at revision 4"), std::string::npos) << moved[0];
}

}  // namespace
}  // namespace pharos::jepsen
