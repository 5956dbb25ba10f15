// Tests of tools/pharosctl/watch_command.cc as a process against a FakeServer: a range given two
// ways is refused, as get and del refuse it, before any watch is created.
#include <gtest/gtest.h>

#include "tests/client/fake_server.h"
#include "tests/tools/pharosctl_process.h"

namespace pharos::testing {
namespace {

TEST(WatchCommandTest, ARangeEndTwoWaysIsRefusedLikeGetAndDel) {
  FakeServer server(
      [](const pb::Envelope&) { return FakeServer::Ok(FakeServer::WatchCreated(1, 1)); });
  const struct {
    std::vector<std::string> args;
    const char* error;
  } kConflicts[] = {
      {{"watch", "a", "z", "--from-key"},
       "--from-key and RANGE_END cannot be set at the same time"},
      {{"watch", "a", "z", "--prefix"}, "--prefix and RANGE_END cannot be set at the same time"},
      {{"watch", "a", "--prefix", "--from-key"},
       "--prefix and --from-key cannot be set at the same time"},
  };
  for (const auto& c : kConflicts) {
    for (const std::string command : {"watch", "get", "del"}) {
      std::vector<std::string> args = c.args;
      args[0] = command;
      // A watch that was not refused runs until a signal: 10 s is plenty for a refusal.
      auto r = RunPharosctl(At(server.endpoint(), args), {}, std::chrono::seconds(10));
      EXPECT_EQ(r.code, 2) << command << " " << c.error << ": " << r.err;
      EXPECT_NE(r.err.find(c.error), std::string::npos) << command << ": " << r.err;
    }
  }
  EXPECT_EQ(server.requests(), 0);
}

}  // namespace
}  // namespace pharos::testing
