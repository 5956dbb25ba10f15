// PrefixCache against a scripted member: when its callbacks may start and when they end, which
// its owners (Discovery, ConfigWatcher) rely on to read themselves from those callbacks.
#include "client/prefix_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

#include "client/client.h"
#include "tests/client/fake_prefix_server.h"
#include "tests/client/thread_state.h"
#include "tests/eventually.h"

namespace pharos::client {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;
using testing::FakePrefixServer;

bool IsListOf(const pb::Envelope& e, const std::string& prefix) {
  return e.has_range() && e.range().key() == prefix;
}

// Whatever the client was asked to send before this has reached the server. Two round trips: a
// request posted just before the first may take one more hop on the I/O thread than it does.
void RoundTrips(Client& client) {
  for (int i = 0; i < 2; ++i) {
    pb::Envelope get;
    get.mutable_range()->set_key("/barrier");
    ASSERT_TRUE(client.Call(get).ok());
  }
}

TEST(PrefixCacheTest, ListsNothingUntilStarted) {
  FakePrefixServer server;
  server.Put("/p/a", "1");
  Client client({.endpoints = {server.endpoint()}});
  std::atomic<int> changes = 0;
  PrefixCache cache(client, "/p/",
                    [&](const std::string&, const std::optional<std::string>&) { ++changes; });
  RoundTrips(client);
  // An owner builds the cache before everything its callback reads is in place (Discovery sets
  // up the rest of itself after): nothing may be listed, so nothing reported, until Start.
  EXPECT_FALSE(server.server()
                   .WaitForRequest([](const pb::Envelope& e) { return IsListOf(e, "/p/"); }, 0ms)
                   .has_value());
  EXPECT_EQ(changes, 0);

  cache.Start();
  ASSERT_TRUE(cache.WaitReady(5s).ok());
  EXPECT_EQ(cache.Get("/p/a"), "1");
  EXPECT_TRUE(Eventually([&] { return changes == 1; }));
}

TEST(PrefixCacheTest, NoCallbackAfterStopAndTheContentStaysReadable) {
  FakePrefixServer server;
  server.Put("/p/a", "1");
  Client client({.endpoints = {server.endpoint()}});
  std::atomic<int> changes = 0;
  PrefixCache cache(client, "/p/",
                    [&](const std::string&, const std::optional<std::string>&) { ++changes; });
  cache.Start();
  ASSERT_TRUE(cache.WaitReady(5s).ok());
  ASSERT_TRUE(server.WaitForWatch());
  ASSERT_TRUE(Eventually([&] { return changes == 1; }));
  cache.Stop();
  server.Put("/p/b", "2");
  RoundTrips(client);
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(cache.Get("/p/a"), "1");
  EXPECT_EQ(cache.Snapshot().size(), 1u);
  cache.Stop();  // idempotent, and the destructor stops again
}

}  // namespace
}  // namespace pharos::client
