// Periodic progress notifications on a real pharosd (--watch-progress-notify-interval): a watch
// created with progress_notify, once caught up, is sent an empty response at the current
// revision every interval, so a client on an idle key learns how far the store has come; a watch
// that did not ask is sent none. Before, the flag on WatchCreateRequest was ignored.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/kv.h"
#include "tests/cluster/process_cluster.h"

namespace pharos::testing {
namespace {

using client::Client;

// Everything one raw watch stream received after its `created` reply.
struct WatchLog {
  bool created = false;
  std::vector<pb::WatchResponse> responses;
};

TEST(WatchProgressTest, OnlyAWatchThatAskedGetsPeriodicProgressAtTheCurrentRevision) {
  ProcessCluster cluster(1, {"--watch-progress-notify-interval", "200ms"});
  ASSERT_GE(cluster.WaitForLeader(), 0);
  Client c({.endpoints = cluster.clients()});

  std::mutex mu;
  std::condition_variable cv;
  WatchLog plain, notified;
  auto open = [&](bool progress_notify, WatchLog* log) {
    pb::Envelope create;
    create.mutable_watch_create()->set_key("/idle");
    create.mutable_watch_create()->set_progress_notify(progress_notify);
    return c.OpenStream(create, "", [&, log](Result<pb::Envelope> r) {
      if (!r.ok()) return;
      std::lock_guard lock(mu);
      if (r->watch_response().created()) {
        log->created = true;
      } else {
        log->responses.push_back(r->watch_response());
      }
      cv.notify_all();
    });
  };
  // The watch without the flag first, so it exists through every period the other one sees.
  auto plain_stream = open(false, &plain);
  auto notified_stream = open(true, &notified);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5),
                            [&] { return plain.created && notified.created; }));
  }
  // A write elsewhere: the idle key's watches get no event, and the revision they should be told
  // about is this one.
  auto put = client::KV(c).Put("/elsewhere", "v");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  const int64_t revision = put->header().revision();

  // Three notifications at the write's revision span at least two whole periods after it.
  auto at_revision = [&] {
    int n = 0;
    for (const pb::WatchResponse& r : notified.responses) {
      n += r.header().revision() == revision;
    }
    return n;
  };
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return at_revision() >= 3; }))
        << notified.responses.size() << " responses to the watch that asked for progress";
    for (const pb::WatchResponse& r : notified.responses) {
      EXPECT_EQ(r.events_size(), 0);
      EXPECT_FALSE(r.canceled());
      EXPECT_LE(r.header().revision(), revision);
      EXPECT_GT(r.header().revision(), 0);
    }
    // Those periods were the other watch's too: had it been notified, it would have been by now.
    EXPECT_TRUE(plain.responses.empty())
        << plain.responses.size() << " responses to a watch that did not ask for progress";
  }
  plain_stream->Close();
  notified_stream->Close();
}

}  // namespace
}  // namespace pharos::testing
