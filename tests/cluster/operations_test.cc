// Operations on a live cluster: a rolling restart under write load, and a flood of writes that
// the server must refuse fast while it keeps its leader and keeps serving.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "client/client.h"
#include "client/kv.h"
#include "client/lease.h"
#include "tests/cluster/process_cluster.h"

namespace pharos::testing {
namespace {

using client::Client;
using client::ClientOptions;
using client::KV;

ClientOptions Options(const ProcessCluster& cluster) {
  ClientOptions o;
  o.endpoints = cluster.clients();
  o.timeout = std::chrono::seconds(10);
  return o;
}

uint64_t MaxTerm(ProcessCluster& cluster) {
  uint64_t term = 0;
  for (int i = 0; i < cluster.size(); ++i) {
    if (!cluster.Running(i)) continue;
    if (auto st = cluster.Status(i)) term = std::max(term, st->raft_term());
  }
  return term;
}

TEST(OperationsTest, ARollingRestartUnderWriteLoadFailsNoWrite) {
  ProcessCluster cluster(3);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  Client c(Options(cluster));
  KV kv(c);
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      auto r = kv.Put("/rolling/" + std::to_string(i), "v");
      if (r.ok()) {
        ++acked;
      } else {
        std::lock_guard lock(mu);
        failures.push_back(std::to_string(i) + ": " + r.status().ToString());
      }
    }
  });
  std::vector<uint64_t> term_changes;
  for (int i = 0; i < cluster.size(); ++i) {
    const int before_acked = acked;
    ASSERT_TRUE(Eventually([&] { return acked >= before_acked + 50; }));
    const uint64_t term_before = MaxTerm(cluster);
    const int status = cluster.Stop(i);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "member " << i;
    cluster.Start(i);
    // Back and caught up: it has applied what the cluster had committed before it returned.
    ASSERT_GE(cluster.WaitForLeader(), 0);
    const int now_acked = acked;
    ASSERT_TRUE(Eventually([&] { return acked >= now_acked + 50; }));
    ASSERT_TRUE(Eventually([&] {
      auto mine = cluster.Status(i);
      const int leader = cluster.WaitForLeader();
      auto lead = leader >= 0 ? cluster.Status(leader) : std::nullopt;
      return mine && lead && mine->raft_applied_index() + 100 >= lead->raft_index();
    }));
    term_changes.push_back(MaxTerm(cluster) - term_before);
  }
  stop = true;
  writer.join();
  std::lock_guard lock(mu);
  std::string terms;
  for (uint64_t t : term_changes) terms += std::to_string(t) + " ";
  std::printf("rolling restart: %d writes acknowledged, %zu failed, term changes per restart: %s\n",
              acked.load(), failures.size(), terms.c_str());
  EXPECT_TRUE(failures.empty()) << failures.front();
  for (uint64_t t : term_changes) EXPECT_LE(t, 1u);
  auto count = kv.Get("/rolling/", {.prefix = true, .count_only = true});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->count(), acked.load());
}

TEST(OperationsTest, AFloodOfWritesIsRefusedFastWhileTheClusterKeepsServing) {
  ProcessCluster cluster(3);
  const int leader = cluster.WaitForLeader();
  ASSERT_GE(leader, 0);
  const uint64_t term = MaxTerm(cluster);
  Client reader(Options(cluster));
  KV reads(reader);
  client::Lease leases(reader);
  auto lease = leases.Grant(30);
  ASSERT_TRUE(lease.ok());

  // One connection with far more writes in flight than the server allows per connection: the
  // excess is refused at once, nothing queues without end.
  ClientOptions flood_options = Options(cluster);
  flood_options.endpoints = {cluster.client(leader)};
  Client flood(flood_options);
  constexpr int kWrites = 6000;
  std::mutex mu;
  std::vector<double> refusal_ms;
  std::vector<std::string> acked_keys;
  int other_errors = 0;
  std::atomic<int> finished{0};
  const std::string value(512, 'x');
  for (int i = 0; i < kWrites; ++i) {
    pb::Envelope put;
    put.mutable_put()->set_key("/flood/" + std::to_string(i));
    put.mutable_put()->set_value(value);
    const auto sent = std::chrono::steady_clock::now();
    flood.CallAsync(put, {.retry = client::RetryPolicy::kNever},
                    [&, sent, key = put.put().key()](Result<pb::Envelope> r) {
                      std::lock_guard lock(mu);
                      if (r.ok()) {
                        acked_keys.push_back(key);
                      } else if (r.status().code() == StatusCode::kResourceExhausted) {
                        refusal_ms.push_back(std::chrono::duration<double, std::milli>(
                                                 std::chrono::steady_clock::now() - sent)
                                                 .count());
                      } else {
                        ++other_errors;
                      }
                      ++finished;
                    });
  }
  // Meanwhile reads and keepalives are served.
  int served_reads = 0;
  while (finished < kWrites) {
    auto r = reads.Get("/flood/0", {}, {.timeout = std::chrono::seconds(5)});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(leases.KeepAliveOnce(lease->id(), {.timeout = std::chrono::seconds(5)}).ok());
    ++served_reads;
  }
  std::lock_guard lock(mu);
  ASSERT_FALSE(refusal_ms.empty()) << "the flood was never refused";
  std::sort(refusal_ms.begin(), refusal_ms.end());
  const double p99 = refusal_ms[refusal_ms.size() * 99 / 100];
  std::printf(
      "flood: %zu acknowledged, %zu refused (p50 %.2f ms, p99 %.2f ms), %d other errors, "
      "%d reads served meanwhile\n",
      acked_keys.size(), refusal_ms.size(), refusal_ms[refusal_ms.size() / 2], p99, other_errors,
      served_reads);
  EXPECT_EQ(other_errors, 0);
  EXPECT_GT(served_reads, 0);
  EXPECT_EQ(MaxTerm(cluster), term) << "the flood cost the cluster its leader";
  // Every acknowledged write is there.
  auto count = reads.Get("/flood/", {.prefix = true, .count_only = true});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->count(), static_cast<int64_t>(acked_keys.size()));
}

}  // namespace
}  // namespace pharos::testing
