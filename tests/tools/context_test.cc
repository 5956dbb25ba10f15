// Tests of tools/pharosctl/context.cc as a process against a FakeServer: the command timeout is
// given one way at most and must be positive; a refusal sends nothing.
#include <gtest/gtest.h>

#include "tests/client/fake_server.h"
#include "tests/tools/pharosctl_process.h"

namespace pharos::testing {
namespace {

TEST(ContextTest, ACommandTimeoutIsGivenOneWayAndIsPositive) {
  FakeServer server([](const pb::Envelope&) {
    pb::Envelope reply;
    reply.mutable_range_response();
    return FakeServer::Ok(reply);
  });
  const struct {
    std::vector<std::string> flags;
    const char* error;
  } kRefused[] = {
      {{"--command-timeout-ms", "0"}, "--command-timeout-ms must be a positive number"},
      {{"--command-timeout-ms=-5"}, "--command-timeout-ms must be a positive number"},
      {{"--command-timeout", "1s", "--command-timeout-ms", "500"},
       "--command-timeout and --command-timeout-ms cannot be set at the same time"},
      {{"--command-timeout", "0s"}, "must be positive"},
  };
  for (const auto& c : kRefused) {
    std::vector<std::string> args = c.flags;
    args.insert(args.end(), {"get", "k"});
    auto r = RunPharosctl(At(server.endpoint(), args));
    EXPECT_EQ(r.code, 2) << c.error << ": " << r.err;
    EXPECT_NE(r.err.find(c.error), std::string::npos) << r.err;
  }
  EXPECT_EQ(server.requests(), 0);
  // Either one alone is fine.
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{"--command-timeout-ms", "500"},
        std::vector<std::string>{"--command-timeout", "1s"}}) {
    std::vector<std::string> args = flags;
    args.insert(args.end(), {"get", "k"});
    auto r = RunPharosctl(At(server.endpoint(), args));
    EXPECT_EQ(r.code, 0) << flags[0] << ": " << r.err;
  }
}

}  // namespace
}  // namespace pharos::testing
