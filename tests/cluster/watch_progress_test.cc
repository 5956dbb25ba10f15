// Periodic progress notifications on a real pharosd (--watch-progress-notify-interval): a watch
// created with progress_notify, once caught up, is sent an empty response at the current
// revision every interval in which it was sent no events, so a client on an idle key learns how
// far the store has come; a watch that did not ask is sent none.
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

// A raw watch stream on one key, and everything it received after its `created` reply.
class RecordedWatch {
 public:
  RecordedWatch(Client& c, const std::string& key, bool progress_notify) {
    pb::Envelope create;
    create.mutable_watch_create()->set_key(key);
    create.mutable_watch_create()->set_progress_notify(progress_notify);
    stream_ = c.OpenStream(create, "", [this](Result<pb::Envelope> r) {
      if (!r.ok()) return;
      std::lock_guard lock(mu_);
      if (r->watch_response().created()) {
        created_ = true;
      } else {
        responses_.push_back(r->watch_response());
      }
      cv_.notify_all();
    });
  }
  ~RecordedWatch() { stream_->Close(); }

  bool WaitUntilCreated() {
    return WaitUntil([](const std::vector<pb::WatchResponse>&) { return true; });
  }
  // Waits (up to 10 s) until the watch was created and `done` holds of what it received.
  template <typename Predicate>
  bool WaitUntil(Predicate done) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10),
                        [&] { return created_ && done(responses_); });
  }
  std::vector<pb::WatchResponse> responses() {
    std::lock_guard lock(mu_);
    return responses_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool created_ = false;
  std::vector<pb::WatchResponse> responses_;
  std::shared_ptr<Client::Stream> stream_;
};

// Progress notifications (responses without events) after the first response with events.
int ProgressNotificationsAfterEvents(const std::vector<pb::WatchResponse>& responses) {
  int n = 0;
  bool events_seen = false;
  for (const pb::WatchResponse& r : responses) {
    events_seen |= r.events_size() > 0;
    n += events_seen && r.events_size() == 0;
  }
  return n;
}

TEST(WatchProgressTest, OnlyAWatchThatAskedGetsPeriodicProgressAtTheCurrentRevision) {
  ProcessCluster cluster(1, {"--watch-progress-notify-interval", "200ms"});
  ASSERT_GE(cluster.WaitForLeader(), 0);
  Client c({.endpoints = cluster.clients()});

  // The watch without the flag first, so it exists through every period the other one sees.
  RecordedWatch plain(c, "/idle", false);
  RecordedWatch notified(c, "/idle", true);
  ASSERT_TRUE(plain.WaitUntilCreated());
  ASSERT_TRUE(notified.WaitUntilCreated());
  // A write elsewhere: the idle key's watches get no event, and the revision they should be told
  // about is this one.
  auto put = client::KV(c).Put("/elsewhere", "v");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  const int64_t revision = put->header().revision();

  // Three notifications at the write's revision span at least two whole periods after it.
  auto at_revision = [&](const std::vector<pb::WatchResponse>& responses) {
    int n = 0;
    for (const pb::WatchResponse& r : responses) n += r.header().revision() == revision;
    return n;
  };
  ASSERT_TRUE(notified.WaitUntil([&](const auto& r) { return at_revision(r) >= 3; }))
      << notified.responses().size() << " responses to the watch that asked for progress";
  for (const pb::WatchResponse& r : notified.responses()) {
    EXPECT_EQ(r.events_size(), 0);
    EXPECT_FALSE(r.canceled());
    EXPECT_LE(r.header().revision(), revision);
    EXPECT_GT(r.header().revision(), 0);
  }
  // Those periods were the other watch's too: had it been notified, it would have been by now.
  EXPECT_TRUE(plain.responses().empty())
      << plain.responses().size() << " responses to a watch that did not ask for progress";
}

// As etcd: a period in which a watch was sent events needs no notification, since the events
// told the client how far the store had come. Before, a busy watch got an empty response every
// interval on top of its events.
TEST(WatchProgressTest, AWatchSentEventsInAPeriodIsNotNotifiedForIt) {
  ProcessCluster cluster(1, {"--watch-progress-notify-interval", "1s"});
  ASSERT_GE(cluster.WaitForLeader(), 0);
  Client c({.endpoints = cluster.clients()});
  client::KV kv(c);

  RecordedWatch busy(c, "/busy", true);
  ASSERT_TRUE(busy.WaitUntilCreated());
  // Back-to-back writes to the watched key for three periods: each period sees hundreds of events.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(3500);
  int64_t last_revision = 0;
  int puts = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto put = kv.Put("/busy", std::to_string(puts++));
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    last_revision = put->header().revision();
  }
  ASSERT_TRUE(busy.WaitUntil([&](const std::vector<pb::WatchResponse>& responses) {
    return !responses.empty() && responses.back().events_size() > 0 &&
           responses.back().events(responses.back().events_size() - 1).kv().mod_revision() ==
               last_revision;
  })) << "the watch was not sent every write";
  // (A period that ended between the watch's creation and its first event may have had one.)
  EXPECT_EQ(ProgressNotificationsAfterEvents(busy.responses()), 0)
      << "progress notifications to a watch sent events in every period, over " << puts << " puts";

  // Idle again, it is notified: the periodic notifications were on all along.
  ASSERT_TRUE(
      busy.WaitUntil([](const auto& r) { return ProgressNotificationsAfterEvents(r) >= 1; }));
  EXPECT_EQ(busy.responses().back().header().revision(), last_revision);
}

}  // namespace
}  // namespace pharos::testing
