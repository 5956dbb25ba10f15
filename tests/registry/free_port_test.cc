// FreePort: every port handed out in one process is a different one, below the kernel's
// ephemeral range.
#include "tests/registry/free_port.h"

#include <gtest/gtest.h>

#include <set>

namespace pharos::testing {
namespace {

TEST(FreePortTest, NeverHandsOutAPortTwiceAndStaysBelowTheEphemeralRange) {
  // Far more ports than any test takes: a cluster test takes nine or so, and with random picks
  // two of them had come out equal.
  std::set<uint16_t> seen;
  for (int i = 0; i < 3000; ++i) {
    const uint16_t port = FreePort();
    EXPECT_TRUE(seen.insert(port).second) << "port " << port << " handed out twice, call " << i;
    EXPECT_GE(port, 20000);
    EXPECT_LT(port, 32000);
  }
}

}  // namespace
}  // namespace pharos::testing
