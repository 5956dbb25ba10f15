// Tests of tools/pharosctl/lease_commands.cc as a process against a FakeServer: a TTL the
// server would refuse is refused before sending, and keep-alive renews under a command timeout
// shorter than its 500 ms floor.
#include <gtest/gtest.h>

#include <atomic>

#include "tests/client/fake_server.h"
#include "tests/tools/pharosctl_process.h"

namespace pharos::testing {
namespace {

using std::chrono::milliseconds;

bool IsGrant(const pb::Envelope& e) { return e.has_lease_grant(); }

TEST(LeaseCommandsTest, AGrantAboveEtcdsMaxLeaseTtlIsRefusedBeforeSending) {
  FakeServer server([](const pb::Envelope& request) {
    pb::Envelope reply;
    reply.mutable_lease_grant_response()->set_id(0x1f);
    reply.mutable_lease_grant_response()->set_ttl(request.lease_grant().ttl());
    return FakeServer::Ok(reply);
  });
  auto above = RunPharosctl(At(server.endpoint(), {"lease", "grant", "9000000001"}));
  EXPECT_EQ(above.code, 2) << above.err;
  EXPECT_NE(above.err.find("at most 9000000000 seconds"), std::string::npos) << above.err;
  EXPECT_EQ(server.requests(), 0);
  // The maximum itself is etcd's to grant.
  auto at_max = RunPharosctl(At(server.endpoint(), {"lease", "grant", "9000000000"}));
  EXPECT_EQ(at_max.code, 0) << at_max.err;
  auto grant = server.WaitForRequest(IsGrant, milliseconds(0));
  ASSERT_TRUE(grant);
  EXPECT_EQ(grant->lease_grant().ttl(), 9'000'000'000);
}

TEST(LeaseCommandsTest, KeepAliveRenewsUnderACommandTimeoutBelowItsFloor) {
  // A 1 s TTL puts a third of it (333 ms) under the 500 ms floor, and the command timeout
  // (200 ms) under both: the bounds of the renewal's timeout must still be in order.
  std::atomic<int> renewals{0};
  FakeServer server([&](const pb::Envelope& request) {
    pb::Envelope reply;
    if (request.has_lease_keep_alive()) {
      ++renewals;
      reply.mutable_lease_keep_alive_response()->set_id(request.lease_keep_alive().id());
      reply.mutable_lease_keep_alive_response()->set_ttl(1);
    }
    return FakeServer::Ok(reply);
  });
  PharosctlProcess keep(
      At(server.endpoint(), {"--command-timeout", "200ms", "lease", "keep-alive", "1f"}));
  // The second renewal is the first whose timeout is computed from the TTL.
  EXPECT_TRUE(Eventually([&] { return renewals >= 3; })) << keep.err();
  keep.Signal(SIGTERM);
  EXPECT_EQ(keep.Wait(), 0) << keep.err();
  EXPECT_NE(keep.out().find("lease 000000000000001f keepalived with TTL(1)"), std::string::npos)
      << keep.out();
}

}  // namespace
}  // namespace pharos::testing
