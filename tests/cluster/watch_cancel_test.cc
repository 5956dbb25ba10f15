// Ending a watch on a real pharosd: a connection may cancel only the watches it opened, the SDK's
// Watcher, when destroyed, ends its watcher on the server while the connection lives on, and a
// connection that closes ends its watches, even one still being made.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/kv.h"
#include "client/watch.h"
#include "tests/cluster/process_cluster.h"
#include "tests/raw_connection.h"

namespace pharos::testing {
namespace {

using client::Client;

// The member's pharos_kv_watchers gauge, or -1 if it cannot be read. The gauge is refreshed when
// entries are applied, so a write goes first.
int Watchers(const ProcessCluster& cluster, Client& c) {
  if (!client::KV(c).Put("/tick", "").ok()) return -1;
  auto metrics = HttpGet(cluster.metrics(0), "/metrics");
  if (!metrics || metrics->first != 200) return -1;
  std::istringstream in(metrics->second);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("pharos_kv_watchers ", 0) == 0) return std::stoi(line.substr(19));
  }
  return -1;
}

TEST(WatchCancelTest, ACancelFromAnotherConnectionLeavesTheWatchRunning) {
  ProcessCluster cluster(1);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  Client owner({.endpoints = cluster.clients()});
  Client other({.endpoints = cluster.clients()});

  // A raw stream, so that the test sees the watch id the member gave.
  std::mutex mu;
  std::condition_variable cv;
  int64_t watch_id = 0;
  std::vector<std::string> seen;
  pb::Envelope create;
  create.mutable_watch_create()->set_key("/k");
  auto stream = owner.OpenStream(create, "", [&](Result<pb::Envelope> r) {
    if (!r.ok()) return;
    std::lock_guard lock(mu);
    if (r->watch_response().created()) watch_id = r->watch_response().watch_id();
    for (const auto& e : r->watch_response().events()) seen.push_back(e.kv().value());
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return watch_id != 0; }));
  }

  pb::Envelope cancel;
  cancel.mutable_watch_cancel()->set_watch_id(watch_id);
  auto foreign = other.Call(cancel);
  EXPECT_EQ(foreign.status().code(), StatusCode::kNotFound) << foreign.status().ToString();
  pb::Envelope unknown;
  unknown.mutable_watch_cancel()->set_watch_id(watch_id + 1000);
  EXPECT_EQ(owner.Call(unknown).status().code(), StatusCode::kNotFound);

  // The watch still runs: a write after the refused cancels reaches it.
  ASSERT_TRUE(client::KV(other).Put("/k", "after").ok());
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] {
      return !seen.empty() && seen.back() == "after";
    })) << "the watch was cancelled by another connection";
  }
  // Its own connection may end it.
  EXPECT_TRUE(owner.Call(cancel).ok());
  EXPECT_TRUE(Eventually([&] { return Watchers(cluster, other) == 0; }));
  stream->Close();
}

TEST(WatchCancelTest, ADestroyedWatcherEndsItsWatchOnTheServerWhileTheClientLives) {
  ProcessCluster cluster(1);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  Client c({.endpoints = cluster.clients()});
  {
    client::Watcher w(
        c, "/k", {}, [](const std::vector<pb::Event>&, int64_t) {},
        [](const client::WatchError&) {});
    ASSERT_TRUE(Eventually([&] { return w.created(); }));
    ASSERT_EQ(Watchers(cluster, c), 1);
  }
  // The client and its connection stay: only a cancel ends the member's watcher.
  EXPECT_TRUE(Eventually([&] { return Watchers(cluster, c) == 0; }, std::chrono::seconds(5)))
      << Watchers(cluster, c) << " watchers left on the member";
}

// A connection that sends a watch request and closes at once is gone before the watch is made.
// Before, the watch was made all the same and kept for good: the member scanned it on every
// apply, and the request stayed in flight.
TEST(WatchCancelTest, AConnectionClosedWhileItsWatchIsMadeLeavesNothingBehind) {
  ProcessCluster cluster(1);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  Client c({.endpoints = cluster.clients()});
  for (int i = 0; i < 20; ++i) {
    RawConnection gone(cluster.client(0));
    ASSERT_TRUE(gone.connected());
    // Reads queued on the apply thread ahead of the watch, so that the member sees the
    // connection close before the watch is made.
    pb::Envelope read;
    read.mutable_range()->set_key("/k");
    read.mutable_range()->set_serializable(true);
    for (int id = 1; id <= 300; ++id) {
      read.set_id(static_cast<uint64_t>(id));
      ASSERT_TRUE(gone.Send(read));
    }
    pb::Envelope create;
    create.set_id(1000);
    create.mutable_watch_create()->set_key("/k");
    ASSERT_TRUE(gone.Send(create));
  }
  EXPECT_TRUE(Eventually([&] { return Watchers(cluster, c) == 0; }, std::chrono::seconds(5)))
      << Watchers(cluster, c) << " watchers left on the member";
  // Nor any of their requests in flight.
  auto metrics = HttpGet(cluster.metrics(0), "/metrics");
  ASSERT_TRUE(metrics && metrics->first == 200);
  EXPECT_NE(metrics->second.find("\npharos_client_requests_in_flight 0\n"), std::string::npos);
}

}  // namespace
}  // namespace pharos::testing
