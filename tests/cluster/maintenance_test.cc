// Maintenance on a live cluster (issue 11): auto-compaction keeps history bounded, and the
// backend quota raises the NOSPACE alarm, refuses writes that add data and is cleared by an
// operator once space is reclaimed.
#include <gtest/gtest.h>

#include <deque>
#include <random>

#include "client/client.h"
#include "client/kv.h"
#include "client/lease.h"
#include "client/watch.h"
#include "tests/cluster/process_cluster.h"

namespace pharos::testing {
namespace {

using client::Client;
using client::ClientOptions;
using client::KV;
using client::Lease;

ClientOptions Options(const ProcessCluster& cluster) {
  ClientOptions o;
  o.endpoints = cluster.clients();
  o.timeout = std::chrono::seconds(10);
  return o;
}

// Whether the history at `revision` is still there (a read at it is not refused COMPACTED).
bool Readable(KV& kv, int64_t revision) {
  auto r = kv.Get("/churn/", {.prefix = true, .revision = revision, .count_only = true});
  if (r.ok()) return true;
  EXPECT_EQ(r.status().code(), StatusCode::kCompacted) << r.status().ToString();
  return false;
}

// Lease churn as service instances make it: grant, register under the lease, revoke.
int64_t Churn(KV& kv, Lease& leases, int rounds) {
  int64_t revision = 0;
  for (int i = 0; i < rounds; ++i) {
    auto lease = leases.Grant(30);
    EXPECT_TRUE(lease.ok()) << lease.status().ToString();
    if (!lease.ok()) return revision;
    auto put = kv.Put("/churn/" + std::to_string(i % 7), "instance", {.lease = lease->id()});
    EXPECT_TRUE(put.ok()) << put.status().ToString();
    EXPECT_TRUE(leases.Revoke(lease->id()).ok());
    if (put.ok()) revision = put->header().revision();
  }
  return revision;
}

TEST(MaintenanceTest, RevisionAutoCompactionKeepsHistoryBoundedUnderLeaseChurn) {
  ProcessCluster cluster(
      3, {"--auto-compaction-mode", "revision", "--auto-compaction-retention", "100"});
  ASSERT_GE(cluster.WaitForLeader(), 0);
  Client c(Options(cluster));
  KV kv(c);
  Lease leases(c);
  for (int pass = 0; pass < 3; ++pass) {
    const int64_t revision = Churn(kv, leases, 150);  // two revisions a round
    ASSERT_GT(revision, 0);
    // History is compacted to within retention + a tenth, and the retention itself is kept.
    EXPECT_TRUE(Eventually([&] { return !Readable(kv, revision - 111); }))
        << "history at " << revision - 111 << " still kept at revision " << revision;
    EXPECT_TRUE(Readable(kv, revision - 99));
  }
  // A watch from a compacted revision fails with the oldest revision still there, so a client
  // can re-list from it.
  std::mutex mu;
  std::optional<client::WatchError> error;
  client::Watcher watcher(
      c, "/churn/", {.prefix = true, .start_revision = 1},
      [](const std::vector<pb::Event>&, int64_t) {},
      [&](const client::WatchError& e) {
        std::lock_guard lock(mu);
        error = e;
      });
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(mu);
    return error.has_value();
  }));
  std::lock_guard lock(mu);
  EXPECT_EQ(error->status.code(), StatusCode::kCompacted) << error->status.ToString();
  EXPECT_GT(error->compact_revision, 1);
  EXPECT_FALSE(Readable(kv, error->compact_revision - 1));
}

TEST(MaintenanceTest, PeriodicAutoCompactionKeepsOnePeriodOfHistory) {
  ProcessCluster cluster(
      3, {"--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1s"});
  ASSERT_GE(cluster.WaitForLeader(), 0);
  Client c(Options(cluster));
  KV kv(c);
  Lease leases(c);
  const int64_t first = Churn(kv, leases, 1);
  // Churn until the first revision is compacted away; meanwhile every revision written in the
  // last half period must still be readable.
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> recent;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool compacted = false;
  while (!compacted && std::chrono::steady_clock::now() < deadline) {
    const int64_t rev = Churn(kv, leases, 5);
    const auto now = std::chrono::steady_clock::now();
    recent.emplace_back(now, rev);
    while (now - recent.front().first > std::chrono::milliseconds(500)) recent.pop_front();
    EXPECT_TRUE(Readable(kv, recent.front().second))
        << "revision " << recent.front().second << " of less than half a period ago is gone";
    compacted = !Readable(kv, first);
  }
  EXPECT_TRUE(compacted) << "nothing compacted in 20 s with a 1 s retention";
}

pb::Envelope AlarmRequest(pb::AlarmRequest::Action action) {
  pb::Envelope e;
  e.mutable_alarm()->set_action(action);
  return e;
}

std::vector<pb::AlarmMember> Alarms(Client& c) {
  auto r = c.Call(AlarmRequest(pb::AlarmRequest::GET));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return {};
  return {r->alarm_response().alarms().begin(), r->alarm_response().alarms().end()};
}

TEST(MaintenanceTest, QuotaRaisesNoSpaceRefusesWritesUntilSpaceIsReclaimedAndDisarmed) {
  // Well above the few hundred KiB the empty memtables of the backend column families count.
  constexpr int kQuota = 8 << 20;
  ProcessCluster cluster(3, {"--quota-backend-bytes", std::to_string(kQuota)});
  const int leader = cluster.WaitForLeader();
  ASSERT_GE(leader, 0);
  Client c(Options(cluster));
  KV kv(c);
  Lease leases(c);
  // Incompressible: the quota counts the backend's files, and RocksDB compresses what it flushes
  // (64 KiB of one letter would shrink to almost nothing once the memtable holding it is flushed).
  std::string value(64 * 1024, ' ');
  std::mt19937 rng(126);
  for (char& ch : value) ch = static_cast<char>('!' + rng() % 90);
  // Fill until the quota bites. Members measure their backend at most every 100 ms, so how far
  // past the quota the fill gets depends on the machine's speed; 20 s of writing without a
  // refusal means the quota is not enforced.
  int written = 0;
  Status refused;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (; std::chrono::steady_clock::now() < give_up; ++written) {
    auto r = kv.Put("/fill/" + std::to_string(written), value);
    if (!r.ok()) {
      refused = r.status();
      break;
    }
  }
  ASSERT_EQ(refused.code(), StatusCode::kNoSpace)
      << "after " << written << " puts of 64 KiB: " << refused.ToString();
  EXPECT_GE(written, kQuota / static_cast<int>(value.size()) / 2);
  // The alarm is replicated: every member knows it, and the refusal is immediate, not retried.
  ASSERT_TRUE(Eventually([&] { return !Alarms(c).empty(); }));
  for (const pb::AlarmMember& a : Alarms(c)) EXPECT_EQ(a.alarm(), pb::NOSPACE);
  EXPECT_EQ(kv.Put("/more", "x").status().code(), StatusCode::kNoSpace);
  EXPECT_EQ(leases.Grant(10).status().code(), StatusCode::kNoSpace);
  client::Txn txn;
  txn.Then(client::Op::Put("/txn", "x"));
  EXPECT_EQ(kv.Commit(txn).status().code(), StatusCode::kNoSpace);
  // Reads still work, and so does everything that frees space.
  auto count = kv.Get("/fill/", {.prefix = true, .count_only = true});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->count(), written);

  // Disarming before space is reclaimed does not help: the members raise it again.
  ASSERT_TRUE(c.Call(AlarmRequest(pb::AlarmRequest::DEACTIVATE)).ok());
  EXPECT_TRUE(Eventually([&] { return !Alarms(c).empty(); }));
  EXPECT_EQ(kv.Put("/more", "x").status().code(), StatusCode::kNoSpace);

  // Reclaim: delete, compact, defragment every member.
  auto reclaim = [&](const std::string& prefix, int expected) {
    auto deleted = kv.Delete(prefix, {.prefix = true});
    ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
    EXPECT_EQ(deleted->deleted(), expected);
    ASSERT_TRUE(kv.Compact(deleted->header().revision()).ok());
    for (int i = 0; i < cluster.size(); ++i) {
      // The compaction was acknowledged once the leader applied it; a follower that has not
      // applied it yet still holds the deleted values, so defragment until its space comes back.
      pb::DefragmentResponse d;
      Status last;
      const bool reclaimed = Eventually([&] {
        pb::Envelope defrag;
        defrag.mutable_defragment();
        auto r = c.Call(defrag, {.endpoint = cluster.client(i)});
        last = r.status();
        if (!r.ok()) return false;
        d = r->defragment_response();
        return d.backend_bytes_after() < kQuota / 2;
      });
      EXPECT_TRUE(reclaimed) << "member " << i << ": " << last.ToString() << ", "
                             << d.backend_bytes_after() << " bytes after defragmenting";
      EXPECT_LT(d.backend_bytes_after(), d.backend_bytes_before()) << "member " << i;
    }
  };
  reclaim("/fill/", written);
  auto disarmed = c.Call(AlarmRequest(pb::AlarmRequest::DEACTIVATE));
  ASSERT_TRUE(disarmed.ok());
  EXPECT_EQ(disarmed->alarm_response().alarms_size(), 0);
  auto put = kv.Put("/after", "x");
  EXPECT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_TRUE(Alarms(c).empty());

  // An alarm stays until it is disarmed, across restarts, even once space is reclaimed.
  int refill = 0;
  while (std::chrono::steady_clock::now() < give_up + std::chrono::seconds(20) &&
         kv.Put("/fill2/" + std::to_string(refill), value).ok()) {
    ++refill;
  }
  ASSERT_TRUE(Eventually([&] { return !Alarms(c).empty(); }));
  reclaim("/fill2/", refill);
  for (int i = 0; i < cluster.size(); ++i) cluster.Kill(i);
  for (int i = 0; i < cluster.size(); ++i) cluster.Start(i);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  EXPECT_FALSE(Alarms(c).empty());
  EXPECT_EQ(kv.Put("/more", "x").status().code(), StatusCode::kNoSpace);
  ASSERT_TRUE(c.Call(AlarmRequest(pb::AlarmRequest::DEACTIVATE)).ok());
  put = kv.Put("/after", "y");
  EXPECT_TRUE(put.ok()) << put.status().ToString();
}

}  // namespace
}  // namespace pharos::testing
