// The typed parsers behind ConfigWatcher, and its lifetime against a scripted member (the rest
// of its live behaviour is a process test: SdkTest).
#include "client/config_watcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "client/client.h"
#include "tests/client/fake_prefix_server.h"
#include "tests/client/thread_state.h"
#include "tests/eventually.h"

namespace pharos::client {
namespace {

using std::chrono::milliseconds;
using testing::CurrentThreadId;
using testing::Eventually;
using testing::FakePrefixServer;
using testing::ThreadIsAsleep;

TEST(ConfigWatcherTest, IntegersParseWholeOrNotAtAll) {
  EXPECT_EQ(ParseInt("42"), 42);
  EXPECT_EQ(ParseInt("-7"), -7);
  EXPECT_EQ(ParseInt(""), std::nullopt);
  EXPECT_EQ(ParseInt("12abc"), std::nullopt);
  EXPECT_EQ(ParseInt(" 1"), std::nullopt);
  EXPECT_EQ(ParseInt("99999999999999999999"), std::nullopt);
}

TEST(ConfigWatcherTest, DoublesParseWholeAndFinite) {
  EXPECT_EQ(ParseDouble("0.25"), 0.25);
  EXPECT_EQ(ParseDouble("1e3"), 1000.0);
  EXPECT_EQ(ParseDouble("1.5x"), std::nullopt);
  EXPECT_EQ(ParseDouble("inf"), std::nullopt);
  EXPECT_EQ(ParseDouble(""), std::nullopt);
}

TEST(ConfigWatcherTest, BooleansInTheUsualSpellings) {
  for (const char* t : {"true", "TRUE", "yes", "On", "1"}) EXPECT_EQ(ParseBool(t), true) << t;
  for (const char* f : {"false", "No", "off", "0"}) EXPECT_EQ(ParseBool(f), false) << f;
  EXPECT_EQ(ParseBool("maybe"), std::nullopt);
  EXPECT_EQ(ParseBool(""), std::nullopt);
}

TEST(ConfigWatcherTest, DurationsWithUnits) {
  EXPECT_EQ(ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(ParseDuration("2m"), milliseconds(120'000));
  EXPECT_EQ(ParseDuration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(ParseDuration("250"), std::nullopt);  // a unit is required
  EXPECT_EQ(ParseDuration("ms"), std::nullopt);
  EXPECT_EQ(ParseDuration("-1s"), std::nullopt);
  EXPECT_EQ(ParseDuration("5d"), std::nullopt);
}

// The destructor waits for a callback in progress; that callback may still read the watcher, so
// the cache must still be there while the destructor waits.
TEST(ConfigWatcherTest, OnChangeInProgressReadsTheWatcherWhileItIsDestroyed) {
  FakePrefixServer server;
  server.Put("/config/svc/timeout", "250ms");
  Client client({.endpoints = {server.endpoint()}});
  std::atomic<bool> in_callback = false;
  std::atomic<pid_t> destroyer = 0;
  std::atomic<bool> destroyer_waited = false;
  std::atomic<int64_t> timeout_seen = -1;
  ConfigWatcher* config = nullptr;
  config = new ConfigWatcher(
      client, "/config/svc/", [&](const std::string& name, const std::optional<std::string>&) {
        if (name != "retries") return;
        in_callback = true;
        // Hold this callback until the destructor is blocked waiting for it, then read.
        destroyer_waited = Eventually([&] {
          const pid_t tid = destroyer.load();
          return tid != 0 && ThreadIsAsleep(tid);
        });
        timeout_seen = config->GetDuration("timeout", milliseconds(0)).count();
      });
  ASSERT_TRUE(config->WaitReady(std::chrono::seconds(5)).ok());
  ASSERT_TRUE(server.WaitForWatch());
  server.Put("/config/svc/retries", "3");
  ASSERT_TRUE(Eventually([&] { return in_callback.load(); }));
  destroyer = CurrentThreadId();
  delete config;
  EXPECT_TRUE(destroyer_waited) << "the destructor never blocked on the callback";
  EXPECT_EQ(timeout_seen, 250);
}

}  // namespace
}  // namespace pharos::client
