#include "client/sync_client.h"

#include <gtest/gtest.h>

#include "tests/client/fake_server.h"

namespace pharos::client {
namespace {

using testing::FakeServer;
using Kind = FakeServer::Action::Kind;

pb::Envelope Put() {
  pb::Envelope e;
  e.mutable_put()->set_key("k");
  e.mutable_put()->set_value("v");
  return e;
}

pb::Envelope Get() {
  pb::Envelope e;
  e.mutable_range()->set_key("k");
  return e;
}

// The member read the write and its connection died before it answered: the write may have been
// applied, so it is not sent to the next member (before, it was, and could apply twice).
TEST(SyncClientTest, AWriteWhoseConnectionDiesAfterSendingIsReportedUnknownAndNotResent) {
  FakeServer dies([](const pb::Envelope&) { return FakeServer::Action{Kind::kClose, {}}; });
  FakeServer other([](const pb::Envelope&) { return FakeServer::Ok(); });
  SyncClient c({dies.endpoint(), other.endpoint()});
  auto r = c.Call(Put());
  EXPECT_EQ(r.status().code(), StatusCode::kOutcomeUnknown) << r.status().ToString();
  EXPECT_EQ(dies.requests(), 1);
  EXPECT_EQ(other.requests(), 0);
}

TEST(SyncClientTest, AReadWhoseConnectionDiesIsSentToTheNextMember) {
  FakeServer dies([](const pb::Envelope&) { return FakeServer::Action{Kind::kClose, {}}; });
  FakeServer other([](const pb::Envelope&) { return FakeServer::Ok(); });
  SyncClient c({dies.endpoint(), other.endpoint()});
  auto r = c.Call(Get());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(other.requests(), 1);
}

}  // namespace
}  // namespace pharos::client
