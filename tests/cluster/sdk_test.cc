// The SDK against a real 3-node cluster: KV and txn, leases, and watches that keep every event
// across a `kill -9` of the leader.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "client/client.h"
#include "client/config_watcher.h"
#include "client/kv.h"
#include "client/lease.h"
#include "client/watch.h"
#include "tests/cluster/process_cluster.h"

namespace pharos::testing {
namespace {

using client::Client;
using client::ClientOptions;
using client::Compare;
using client::CompareOp;
using client::KV;
using client::Op;
using client::Txn;

ClientOptions Options(const ProcessCluster& cluster) {
  ClientOptions o;
  o.endpoints = cluster.clients();
  o.timeout = std::chrono::seconds(5);
  return o;
}

TEST(SdkTest, KeyValueAndTxn) {
  ProcessCluster cluster(3);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  Client c(Options(cluster));
  KV kv(c);
  auto put = kv.Put("/services/a/1", "one");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  const int64_t first = put->header().revision();
  ASSERT_TRUE(kv.Put("/services/a/2", "two").ok());
  ASSERT_TRUE(kv.Put("/services/b/1", "other").ok());

  auto prefix = kv.Get("/services/a/", {.prefix = true});
  ASSERT_TRUE(prefix.ok());
  ASSERT_EQ(prefix->kvs_size(), 2);
  EXPECT_EQ(prefix->kvs(0).value(), "one");
  EXPECT_EQ(prefix->kvs(1).value(), "two");
  auto count = kv.Get("/services/", {.prefix = true, .count_only = true});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->count(), 3);
  auto absent = kv.Get("/nothing");
  ASSERT_TRUE(absent.ok());
  EXPECT_EQ(absent->kvs_size(), 0);

  // Compare-and-swap on the version: the first wins, the second sees the new value.
  Txn cas;
  cas.If(Compare::Value("/services/a/1", CompareOp::kEqual, "one"))
      .Then(Op::Put("/services/a/1", "uno"))
      .Else(Op::Get("/services/a/1"));
  auto won = kv.Commit(cas);
  ASSERT_TRUE(won.ok()) << won.status().ToString();
  EXPECT_TRUE(won->succeeded());
  auto lost = kv.Commit(cas);
  ASSERT_TRUE(lost.ok());
  EXPECT_FALSE(lost->succeeded());
  ASSERT_EQ(lost->responses_size(), 1);
  EXPECT_EQ(lost->responses(0).response_range().kvs(0).value(), "uno");

  // History: the old value at the old revision, until compacted.
  auto old = kv.Get("/services/a/1", {.revision = first});
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->kvs(0).value(), "one");
  auto deleted = kv.Delete("/services/a/", {.prefix = true, .prev_kv = true});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->deleted(), 2);
  EXPECT_EQ(deleted->prev_kvs_size(), 2);
  ASSERT_TRUE(kv.Compact(deleted->header().revision()).ok());
  auto compacted = kv.Get("/services/a/1", {.revision = first});
  EXPECT_EQ(compacted.status().code(), StatusCode::kCompacted);
  // Bad input gets a clear error, not a retry loop.
  auto bad = kv.Put(std::string(9 * 1024, 'k'), "v");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

// Answers may be larger than any request: three values of 1.25 MiB in one range, one with its
// previous value in a delete. Before, the client refused any frame over the request limit and
// dropped the connection, failing these and every other request on it.
TEST(SdkTest, AnswersLargerThanAnyRequestArrive) {
  ProcessCluster cluster(1);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  Client c(Options(cluster));
  KV kv(c);
  const std::string value(1280 * 1024, 'v');
  for (int i = 0; i < 3; ++i) {
    auto put = kv.Put("/large/" + std::to_string(i), value);
    ASSERT_TRUE(put.ok()) << put.status().ToString();
  }
  auto all = kv.Get("/large/", {.prefix = true});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->kvs_size(), 3);
  for (const auto& kv : all->kvs()) EXPECT_EQ(kv.value().size(), value.size());
  auto deleted = kv.Delete("/large/", {.prefix = true, .prev_kv = true});
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->prev_kvs_size(), 3);
}

TEST(SdkTest, LeaseExpiryDeletesItsKeysAndKeepAliveHoldsThem) {
  ProcessCluster cluster(3);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  Client c(Options(cluster));
  KV kv(c);
  client::Lease lease(c);

  std::atomic<int> lost{0};
  auto kept = lease.GrantAndKeepAlive(1, [&](Status) { ++lost; });
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  auto doomed = lease.Grant(1);
  ASSERT_TRUE(doomed.ok());
  ASSERT_TRUE(kv.Put("/kept", "x", {.lease = (*kept)->id()}).ok());
  ASSERT_TRUE(kv.Put("/doomed", "x", {.lease = doomed->id()}).ok());
  // Unattached to a live lease, a put is refused.
  EXPECT_EQ(kv.Put("/k", "v", {.lease = 424242}).status().code(), StatusCode::kLeaseNotFound);

  ASSERT_TRUE(Eventually([&] {
    auto r = kv.Get("/doomed");
    return r.ok() && r->kvs_size() == 0;
  }));
  auto ttl = lease.TimeToLive(doomed->id());
  ASSERT_TRUE(ttl.ok());
  EXPECT_EQ(ttl->ttl(), -1);
  // The kept lease outlived the doomed one by renewals; it is still there with its key.
  auto kept_key = kv.Get("/kept");
  ASSERT_TRUE(kept_key.ok());
  EXPECT_EQ(kept_key->kvs_size(), 1);
  EXPECT_EQ(lost.load(), 0);
  EXPECT_GT((*kept)->deadline(), std::chrono::steady_clock::now());

  // Revoked under its keepalive: the owner hears of it once, and the key is gone.
  ASSERT_TRUE(lease.Revoke((*kept)->id()).ok());
  ASSERT_TRUE(Eventually([&] { return lost.load() == 1; }));
  EXPECT_TRUE((*kept)->lost());
  auto gone = kv.Get("/kept");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->kvs_size(), 0);
}

// Writes unique keys under `prefix` until stopped, recording the revision of every
// acknowledged write (writes with an unknown outcome are counted apart).
class Writer {
 public:
  Writer(Client& c, std::string prefix) : kv_(c), prefix_(std::move(prefix)) {
    thread_ = std::thread([this] {
      for (int i = 0; !stop_; ++i) {
        auto r = kv_.Put(prefix_ + std::to_string(i), "v");
        std::lock_guard lock(mu_);
        if (r.ok()) {
          acked_.push_back(r->header().revision());
        } else if (r.status().code() == StatusCode::kOutcomeUnknown) {
          ++unknown_;
        }
      }
    });
  }
  ~Writer() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  size_t acked() {
    std::lock_guard lock(mu_);
    return acked_.size();
  }
  std::vector<int64_t> acked_revisions() {
    std::lock_guard lock(mu_);
    return acked_;
  }

 private:
  KV kv_;
  std::string prefix_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<int64_t> acked_;
  int unknown_ = 0;
  std::thread thread_;
};

struct Seen {
  std::mutex mu;
  std::vector<int64_t> revisions;
  std::vector<std::string> keys;
  size_t size() {
    std::lock_guard lock(mu);
    return revisions.size();
  }
};

// A watch (opened on member `watch_on`) keeps every event, in order, exactly once, while the
// leader is killed under a steady write load.
void WatchAcrossLeaderKill(bool watch_on_leader) {
  ProcessCluster cluster(3);
  const int leader = cluster.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int watch_on = watch_on_leader ? leader : (leader + 1) % 3;
  Client writer_client(Options(cluster));
  Client watch_client(Options(cluster));
  Seen seen;
  std::atomic<bool> failed{false};
  client::Watcher watcher(
      watch_client, "/w/", {.prefix = true, .endpoint = cluster.client(watch_on)},
      [&](const std::vector<pb::Event>& events, int64_t revision) {
        std::lock_guard lock(seen.mu);
        for (const auto& e : events) {
          seen.revisions.push_back(revision);
          seen.keys.push_back(e.kv().key());
        }
      },
      [&](const client::WatchError&) { failed = true; });
  ASSERT_TRUE(Eventually([&] { return watcher.created(); }));

  Writer writer(writer_client, "/w/");
  ASSERT_TRUE(Eventually([&] { return writer.acked() >= 50; }));
  cluster.Kill(leader);
  const size_t acked_at_kill = writer.acked();
  ASSERT_TRUE(
      Eventually([&] { return writer.acked() >= acked_at_kill + 50; }, std::chrono::seconds(20)));
  writer.Stop();

  KV kv(writer_client);
  auto all = kv.Get("/w/", {.prefix = true, .count_only = true});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  const int64_t final_revision = all->header().revision();
  ASSERT_TRUE(Eventually([&] { return watcher.last_revision() >= final_revision; },
                         std::chrono::seconds(20)))
      << "watch stuck at " << watcher.last_revision() << " of " << final_revision;
  EXPECT_FALSE(failed);
  std::lock_guard lock(seen.mu);
  // Exactly once and in order: revisions strictly rise (each put is its own revision) ...
  for (size_t i = 1; i < seen.revisions.size(); ++i) {
    ASSERT_LT(seen.revisions[i - 1], seen.revisions[i]) << "at event " << i;
  }
  // ... every key written shows up once, and every acknowledged write is among them.
  EXPECT_EQ(static_cast<int64_t>(seen.revisions.size()), all->count());
  std::set<int64_t> seen_revisions(seen.revisions.begin(), seen.revisions.end());
  for (int64_t r : writer.acked_revisions()) EXPECT_TRUE(seen_revisions.count(r)) << r;
  if (watch_on_leader) {
    EXPECT_GE(watcher.streams_opened(), 2);  // its member died: it resumed elsewhere
  } else {
    EXPECT_EQ(watcher.streams_opened(), 1);  // the follower's stream rode out the failover
  }
}

TEST(SdkTest, AWatchOnAFollowerSeesEveryEventAcrossALeaderFailover) {
  WatchAcrossLeaderKill(/*watch_on_leader=*/false);
}

TEST(SdkTest, AWatchOnTheKilledLeaderResumesElsewhereWithoutLossOrRepeat) {
  WatchAcrossLeaderKill(/*watch_on_leader=*/true);
}

TEST(SdkTest, AWatchFromACompactedRevisionFailsWithTheCompactRevision) {
  ProcessCluster cluster(3);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  Client c(Options(cluster));
  KV kv(c);
  ASSERT_TRUE(kv.Put("/c", "1").ok());
  auto second = kv.Put("/c", "2");
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(kv.Compact(second->header().revision()).ok());
  std::atomic<int64_t> compact_revision{-1};
  client::Watcher watcher(
      c, "/c", {.start_revision = 1}, [](const std::vector<pb::Event>&, int64_t) {},
      [&](const client::WatchError& e) {
        EXPECT_EQ(e.status.code(), StatusCode::kCompacted);
        compact_revision = e.compact_revision;
      });
  ASSERT_TRUE(Eventually([&] { return compact_revision.load() >= 0; }));
  EXPECT_EQ(compact_revision.load(), second->header().revision());
}

}  // namespace
}  // namespace pharos::testing

namespace pharos::testing {
namespace {

TEST(SdkTest, AConfigWatcherHoldsTypedSettingsAndHearsEveryChange) {
  ProcessCluster cluster(3);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  client::ClientOptions options;
  options.endpoints = cluster.clients();
  client::Client c(options);
  client::KV kv(c);
  ASSERT_TRUE(kv.Put("/config/greeter/timeout", "250ms").ok());
  ASSERT_TRUE(kv.Put("/config/greeter/retries", "3").ok());
  ASSERT_TRUE(kv.Put("/config/other/retries", "9").ok());
  std::mutex mu;
  std::vector<std::pair<std::string, std::optional<std::string>>> changes;
  client::ConfigWatcher config(c, "/config/greeter/",
                               [&](const std::string& name, const std::optional<std::string>& v) {
                                 std::lock_guard lock(mu);
                                 changes.emplace_back(name, v);
                               });
  ASSERT_TRUE(config.WaitReady(std::chrono::seconds(5)).ok());
  EXPECT_EQ(config.GetDuration("timeout", std::chrono::milliseconds(1)),
            std::chrono::milliseconds(250));
  EXPECT_EQ(config.GetInt("retries", 0), 3);
  EXPECT_EQ(config.GetBool("verbose", true), true);  // absent: the default
  EXPECT_EQ(config.All().size(), 2u);

  ASSERT_TRUE(kv.Put("/config/greeter/retries", "5").ok());
  ASSERT_TRUE(kv.Put("/config/greeter/verbose", "off").ok());
  ASSERT_TRUE(kv.Delete("/config/greeter/timeout").ok());
  ASSERT_TRUE(Eventually([&] {
    return config.GetInt("retries", 0) == 5 && !config.GetBool("verbose", true) &&
           !config.Get("timeout").has_value();
  }));
  std::lock_guard lock(mu);
  // The first list reports what it found, then each change once, in order.
  ASSERT_EQ(changes.size(), 5u);
  EXPECT_EQ(changes[2], (std::pair<std::string, std::optional<std::string>>{"retries", "5"}));
  EXPECT_EQ(changes[3], (std::pair<std::string, std::optional<std::string>>{"verbose", "off"}));
  EXPECT_EQ(changes[4].first, "timeout");
  EXPECT_FALSE(changes[4].second.has_value());
}

}  // namespace
}  // namespace pharos::testing
