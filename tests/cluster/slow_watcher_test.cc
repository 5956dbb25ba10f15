// Clients that stop reading: a watcher, and a snapshot's reader. The member stops queueing for the
// socket once a few MiB wait there and sends on, every byte in order, when the client reads again.
// Before, everything since the client stopped waited in the member's memory.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>

#include "client/client.h"
#include "client/txn.h"
#include "tests/cluster/process_cluster.h"
#include "tests/eventually.h"
#include "tests/raw_connection.h"

namespace pharos::testing {
namespace {

// A counter or gauge from the member's /metrics, or -1.
double Metric(const ProcessCluster& cluster, const std::string& name) {
  auto metrics = HttpGet(cluster.metrics(0), "/metrics");
  if (!metrics || metrics->first != 200) return -1;
  std::istringstream in(metrics->second);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

// Puts `prefix`0 .. `prefix`(count-1), each `value`, 64 at a time.
void PutMany(const ProcessCluster& cluster, const std::string& prefix, int count,
             const std::string& value) {
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, failed = 0, sent = 0;
  std::function<void()> send_one;
  // Declared last, so destroyed first: its I/O thread, which runs the callbacks below, ends
  // before what they use goes. (The other way round, the last callback could still be running
  // when this function returned.)
  std::optional<client::Client> writer;
  writer.emplace(client::ClientOptions{.endpoints = cluster.clients()});
  send_one = [&] {
    pb::Envelope put;
    {
      std::lock_guard lock(mu);
      if (sent == count) return;
      put.mutable_put()->set_key(prefix + std::to_string(sent++));
    }
    put.mutable_put()->set_value(value);
    writer->CallAsync(std::move(put), {}, [&](Result<pb::Envelope> r) {
      {
        std::lock_guard lock(mu);
        ++done;
        if (!r.ok()) ++failed;
      }
      cv.notify_all();
      send_one();
    });
  };
  for (int i = 0; i < 64; ++i) send_one();
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(120), [&] { return done == count; }));
  ASSERT_EQ(failed, 0);
}

TEST(SlowWatcherTest, AClientThatStopsReadingCostsTheMemberABoundedBacklogAndMissesNothing) {
  ProcessCluster cluster(1);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  RawConnection slow(cluster.client(0));
  ASSERT_TRUE(slow.connected());
  pb::Envelope create;
  create.set_id(1);
  create.mutable_watch_create()->set_key("/slow/");
  create.mutable_watch_create()->set_range_end(client::PrefixEnd("/slow/"));
  ASSERT_TRUE(slow.Send(create));
  auto created = slow.Next(std::chrono::seconds(5));
  ASSERT_TRUE(created && created->watch_response().created());
  const int64_t start = created->watch_response().header().revision();

  // 40 MiB of events for a client that reads none of them.
  constexpr int kPuts = 10000;
  ASSERT_NO_FATAL_FAILURE(PutMany(cluster, "/slow/", kPuts, std::string(4096, 'v')));

  // The member holds a few MiB for the socket, not the 40 it was sent.
  EXPECT_GE(Metric(cluster, "pharos_watch_slow_reader_pauses_total"), 1);
  const double unsent = Metric(cluster, "pharos_client_unsent_bytes");
  EXPECT_GE(unsent, 0);
  EXPECT_LT(unsent, 8 << 20);

  // Read again: every put arrives, one revision after the other.
  int64_t next = start + 1;
  while (next <= start + kPuts) {
    auto e = slow.Next(std::chrono::seconds(30));
    ASSERT_TRUE(e.has_value()) << "nothing after revision " << next - 1;
    ASSERT_EQ(e->status().code(), pb::OK) << e->status().message();
    for (const pb::Event& ev : e->watch_response().events()) {
      ASSERT_EQ(ev.kv().mod_revision(), next) << "an event was lost or repeated";
      ++next;
    }
  }
}

// Before, every chunk of a snapshot was queued for the socket as soon as it was read: a client
// that asked for one and read nothing had the whole store copied into the member's memory.
TEST(SlowWatcherTest, ASnapshotForAClientThatStopsReadingWaitsForIt) {
  ProcessCluster cluster(1);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  constexpr int kKeys = 3000;  // 24 MiB
  ASSERT_NO_FATAL_FAILURE(PutMany(cluster, "/big/", kKeys, std::string(8192, 'v')));

  RawConnection slow(cluster.client(0));
  ASSERT_TRUE(slow.connected());
  pb::Envelope request;
  request.set_id(1);
  request.mutable_snapshot();
  ASSERT_TRUE(slow.Send(request));
  ASSERT_TRUE(
      Eventually([&] { return Metric(cluster, "pharos_snapshot_slow_reader_pauses_total") >= 1; }));
  const double unsent = Metric(cluster, "pharos_client_unsent_bytes");
  EXPECT_GE(unsent, 0);
  EXPECT_LT(unsent, 4 << 20);

  // Read again: the stream arrives whole, ending with its checksum.
  size_t bytes = 0;
  for (;;) {
    auto e = slow.Next(std::chrono::seconds(30));
    ASSERT_TRUE(e.has_value()) << "the stream stopped after " << bytes << " bytes";
    ASSERT_EQ(e->status().code(), pb::OK) << e->status().message();
    bytes += e->snapshot_response().blob().size();
    if (!e->snapshot_response().checksum().empty()) break;
  }
  EXPECT_GT(bytes, size_t{kKeys} * 8192);
}

}  // namespace
}  // namespace pharos::testing
