// The README's SDK walk-through as a test: two greeter instances register, the caller spreads
// calls over both; one greeter is killed, its breaker opens and the caller keeps being answered
// by the other, and discovery drops the dead one when its lease expires.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/cluster/child_process.h"
#include "tests/cluster/process_cluster.h"

namespace pharos::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string JoinEndpoints(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

TEST(ExamplesTest, TheCallerRidesOutTheDeathOfOneGreeter) {
  ProcessCluster cluster(3);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  const std::string endpoints = JoinEndpoints(cluster.clients());
  const std::string dir = ::testing::TempDir() + "/examples_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  Child g1({GREETER_SERVER, "--endpoints", endpoints, "--id", "g1", "--ttl", "2"}, dir + "/g1");
  Child g2({GREETER_SERVER, "--endpoints", endpoints, "--id", "g2", "--ttl", "2"}, dir + "/g2");
  ASSERT_TRUE(Eventually([&] {
    return Slurp(dir + "/g1").find("serving") != std::string::npos &&
           Slurp(dir + "/g2").find("serving") != std::string::npos;
  }));

  Child before({GREETER_CALLER, "--endpoints", endpoints, "--calls", "20", "--rate", "100"},
               dir + "/before");
  ASSERT_EQ(before.Wait(std::chrono::seconds(30)), 0);
  const std::string out = Slurp(dir + "/before");
  EXPECT_NE(out.find("done: 20 of 20"), std::string::npos) << out;
  // Smooth weighted round robin over equal weights alternates.
  EXPECT_EQ(Count(out, "from g1"), 10) << out;
  EXPECT_EQ(Count(out, "from g2"), 10) << out;

  g1.Kill();  // no deregistration: its record stays until its lease expires
  Child after({GREETER_CALLER, "--endpoints", endpoints, "--calls", "30", "--rate", "100"},
              dir + "/after");
  ASSERT_EQ(after.Wait(std::chrono::seconds(30)), 0);
  const std::string out2 = Slurp(dir + "/after");
  // A few calls fail on g1 until its breaker opens (volume threshold 3); then g1 is skipped.
  EXPECT_LE(Count(out2, "g1 failed"), 3) << out2;
  EXPECT_NE(out2.find("breaker g1: closed -> open"), std::string::npos) << out2;
  EXPECT_GE(Count(out2, "from g2"), 27) << out2;

  // Once the lease is gone, discovery no longer offers g1 at all.
  ASSERT_TRUE(Eventually(
      [&] {
        Child probe({GREETER_CALLER, "--endpoints", endpoints, "--calls", "4", "--rate", "100"},
                    dir + "/probe");
        return probe.Wait(std::chrono::seconds(20)) == 0 &&
               Count(Slurp(dir + "/probe"), "from g2") == 4;
      },
      std::chrono::seconds(20)));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pharos::testing
