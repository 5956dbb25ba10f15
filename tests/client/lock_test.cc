#include "client/lock.h"

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "tests/client/fake_server.h"

namespace pharos::client {
namespace {

using testing::FakeServer;

// A member that keeps the lock's session lease alive but never answers the create-if-absent txn
// (a leader paused after proposing it, say): the txn may have created the contender key.
TEST(LockTest, AnAcquireWhoseKeyMayHaveBeenCreatedReportsUnknownAndDeletesTheKey) {
  std::mutex mu;
  std::vector<std::string> deleted;
  FakeServer s([&](const pb::Envelope& req) {
    pb::Envelope reply;
    if (req.has_lease_grant()) {
      reply.mutable_lease_grant_response()->set_id(0x2a);
      reply.mutable_lease_grant_response()->set_ttl(10);
    } else if (req.has_lease_keep_alive()) {
      reply.mutable_lease_keep_alive_response()->set_id(req.lease_keep_alive().id());
      reply.mutable_lease_keep_alive_response()->set_ttl(10);
    } else if (req.has_txn()) {
      return FakeServer::Action{FakeServer::Action::Kind::kIgnore, {}};
    } else if (req.has_delete_range()) {
      std::lock_guard lock(mu);
      deleted.push_back(req.delete_range().key());
    }
    return FakeServer::Ok(reply);
  });
  ClientOptions o;
  o.endpoints = {s.endpoint()};
  Client c(o);
  Lock lock(c, "l");
  const Status acquired = lock.Acquire(std::chrono::milliseconds(200));
  EXPECT_EQ(acquired.code(), StatusCode::kOutcomeUnknown) << acquired.ToString();
  EXPECT_FALSE(lock.held());
  // Acquire deletes the key before it returns: otherwise it would block every other contender
  // until the session lease ran out.
  std::lock_guard guard(mu);
  ASSERT_FALSE(lock.key().empty());
  EXPECT_EQ(deleted, std::vector<std::string>{lock.key()});
}

}  // namespace
}  // namespace pharos::client
