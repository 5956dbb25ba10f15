// Watcher against a scripted server: what the server is told when a watch ends (it keeps a
// watcher until then, for as long as the connection lives), and where a watch resumes.
#include "client/watch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "client/client.h"
#include "tests/client/fake_server.h"
#include "tests/eventually.h"

namespace pharos::client {
namespace {

using namespace std::chrono_literals;
using testing::FakeServer;
using Kind = FakeServer::Action::Kind;

using testing::Eventually;

bool IsCancel(const pb::Envelope& e) { return e.has_watch_cancel(); }
bool IsCreate(const pb::Envelope& e) { return e.has_watch_create(); }

// A round trip on the client's one connection: whatever the client sent before it has arrived.
void RoundTrip(Client& c) {
  pb::Envelope get;
  get.mutable_range()->set_key("/barrier");
  ASSERT_TRUE(c.Call(get).ok());
}

TEST(WatchTest, DestroyingACreatedWatcherCancelsItsWatchOnTheServer) {
  FakeServer s([](const pb::Envelope& req) {
    if (IsCreate(req)) return FakeServer::Ok(FakeServer::WatchCreated(42, 7));
    return FakeServer::Ok();
  });
  Client c({.endpoints = {s.endpoint()}});
  {
    Watcher w(
        c, "/k", {}, [](const std::vector<pb::Event>&, int64_t) {}, [](const WatchError&) {});
    ASSERT_TRUE(Eventually([&] { return w.created(); }));
  }
  auto cancel = s.WaitForRequest(IsCancel);
  ASSERT_TRUE(cancel.has_value()) << "the server was never told the watch ended";
  EXPECT_EQ(cancel->watch_cancel().watch_id(), 42);
  // On the watch's own connection: the server refuses a cancel from any other.
  EXPECT_EQ(s.connections(), 1);
  EXPECT_FALSE(cancel->traceparent().empty());
}

TEST(WatchTest, AWatcherDestroyedBeforeItsWatchIsCreatedCancelsItOnceTheReplyNamesIt) {
  FakeServer s([](const pb::Envelope& req) {
    if (IsCreate(req)) return FakeServer::Action{Kind::kIgnore, {}};  // answered by Push
    return FakeServer::Ok();
  });
  Client c({.endpoints = {s.endpoint()}});
  auto w = std::make_unique<Watcher>(
      c, "/k", WatchOptions{}, [](const std::vector<pb::Event>&, int64_t) {},
      [](const WatchError&) {});
  auto create = s.WaitForRequest(IsCreate);
  ASSERT_TRUE(create.has_value());
  w.reset();
  RoundTrip(c);
  // The watch id is not known yet: there is nothing to cancel until the server names it.
  EXPECT_FALSE(s.WaitForRequest(IsCancel, 0ms).has_value());

  pb::Envelope created = FakeServer::WatchCreated(9, 3);
  created.set_id(create->id());
  s.Push(created);
  auto cancel = s.WaitForRequest(IsCancel);
  ASSERT_TRUE(cancel.has_value()) << "the watch the server created late was never cancelled";
  EXPECT_EQ(cancel->watch_cancel().watch_id(), 9);
  EXPECT_EQ(s.connections(), 1);
}

TEST(WatchTest, AProgressNotificationMovesTheRevisionAWatchResumesFrom) {
  FakeServer s([](const pb::Envelope& req) {
    if (IsCreate(req)) return FakeServer::Ok(FakeServer::WatchCreated(1, 10));
    if (req.has_range() && req.range().key() == "/break") {
      return FakeServer::Action{Kind::kClose, {}};
    }
    return FakeServer::Ok();
  });
  Client c({.endpoints = {s.endpoint()}});
  Watcher w(
      c, "/k", {}, [](const std::vector<pb::Event>&, int64_t) {}, [](const WatchError&) {});
  ASSERT_TRUE(Eventually([&] { return w.created(); }));
  EXPECT_EQ(w.last_revision(), 10);
  auto create = s.WaitForRequest(IsCreate);
  ASSERT_TRUE(create.has_value());

  // Nothing for this watch up to revision 50, the server says (an idle watch).
  pb::Envelope progress;
  progress.set_id(create->id());
  progress.mutable_status()->set_code(pb::OK);
  progress.mutable_watch_response()->set_watch_id(1);
  progress.mutable_watch_response()->mutable_header()->set_revision(50);
  s.Push(progress);
  ASSERT_TRUE(Eventually([&] { return w.last_revision() == 50; }))
      << "last revision " << w.last_revision();

  // The connection drops: the watch resumes after the progress, not after the creation, so
  // history compacted meanwhile below 51 does not end it.
  pb::Envelope drop;
  drop.mutable_range()->set_key("/break");
  c.CallAsync(drop, {.retry = RetryPolicy::kNever}, [](Result<pb::Envelope>) {});
  auto resumed = s.WaitForRequest(
      [](const pb::Envelope& e) { return IsCreate(e) && e.watch_create().start_revision() > 0; });
  ASSERT_TRUE(resumed.has_value());
  EXPECT_EQ(resumed->watch_create().start_revision(), 51);
}

}  // namespace
}  // namespace pharos::client
