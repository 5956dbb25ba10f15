// Operations on a live cluster: a rolling restart and membership changes under a steady write
// load, and floods of writes that the server must refuse fast while it keeps its leader and keeps
// serving.
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

// Puts under `prefix` one after another, as fast as they are acknowledged, through the SDK with
// its default retries, until destroyed; records every failure.
class SteadyWriter {
 public:
  SteadyWriter(const ProcessCluster& cluster, std::string prefix)
      : client_(Options(cluster)), kv_(client_), prefix_(std::move(prefix)) {
    thread_ = std::thread([this] {
      for (int i = 0; !stop_; ++i) {
        auto r = kv_.Put(prefix_ + std::to_string(i), "v");
        if (r.ok()) {
          ++acked_;
        } else {
          std::lock_guard lock(mu_);
          failures_.push_back(std::to_string(i) + ": " + r.status().ToString());
        }
      }
    });
  }
  ~SteadyWriter() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int acked() const { return acked_; }
  // Waits until `n` more writes are acknowledged.
  bool Advance(int n) {
    const int target = acked_ + n;
    return Eventually([&] { return acked_ >= target; });
  }
  std::vector<std::string> failures() {
    std::lock_guard lock(mu_);
    return failures_;
  }
  // Every acknowledged write is there.
  void ExpectAllPresent() {
    auto count = kv_.Get(prefix_, {.prefix = true, .count_only = true});
    ASSERT_TRUE(count.ok()) << count.status().ToString();
    EXPECT_EQ(count->count(), acked_.load());
  }

 private:
  Client client_;
  KV kv_;
  std::string prefix_;
  std::atomic<bool> stop_{false};
  std::atomic<int> acked_{0};
  std::mutex mu_;
  std::vector<std::string> failures_;
  std::thread thread_;
};

TEST(OperationsTest, ARollingRestartUnderWriteLoadFailsNoWrite) {
  ProcessCluster cluster(3);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  SteadyWriter writer(cluster, "/rolling/");
  std::vector<uint64_t> term_changes;
  for (int i = 0; i < cluster.size(); ++i) {
    ASSERT_TRUE(writer.Advance(50));
    const uint64_t term_before = MaxTerm(cluster);
    const int status = cluster.Stop(i);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "member " << i;
    cluster.Start(i);
    // Back and caught up: it has applied what the cluster had committed before it returned.
    ASSERT_GE(cluster.WaitForLeader(), 0);
    ASSERT_TRUE(writer.Advance(50));
    ASSERT_TRUE(Eventually([&] {
      auto mine = cluster.Status(i);
      const int leader = cluster.WaitForLeader();
      auto lead = leader >= 0 ? cluster.Status(leader) : std::nullopt;
      return mine && lead && mine->raft_applied_index() + 100 >= lead->raft_index();
    }));
    term_changes.push_back(MaxTerm(cluster) - term_before);
  }
  writer.Stop();
  const auto failures = writer.failures();
  std::string terms;
  for (uint64_t t : term_changes) terms += std::to_string(t) + " ";
  std::printf("rolling restart: %d writes acknowledged, %zu failed, term changes per restart: %s\n",
              writer.acked(), failures.size(), terms.c_str());
  EXPECT_TRUE(failures.empty()) << failures.front();
  for (uint64_t t : term_changes) EXPECT_LE(t, 1u);
  writer.ExpectAllPresent();
}

Result<pb::Envelope> MemberChange(Client& c, pb::Envelope request) {
  auto r = c.Call(std::move(request), {.retry = client::RetryPolicy::kNever});
  return r;
}

// A follower frozen for 5 s (SIGSTOP: a VM paused, a process stopped) while clients read and
// write through the leader comes back to be probed. Every linearizable read's round sends a
// heartbeat; its answers must not each re-send the probe. When they did, the leader re-read the
// same 1 MiB of its log per read, its raft thread ran at 100% for seconds, sent no heartbeat, and
// the other follower deposed it: a healthy leader lost to a follower's pause.
TEST(OperationsTest, AFollowerThawedUnderReadLoadDoesNotCostTheLeaderItsLeadership) {
  ProcessCluster cluster(3);
  const int leader = cluster.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int frozen = (leader + 1) % cluster.size();
  ClientOptions to_leader = Options(cluster);
  to_leader.endpoints = {cluster.client(leader)};
  SteadyWriter writer(cluster, "/thawed/");
  ASSERT_TRUE(writer.Advance(200));
  // No assertion may return from here until the readers are joined.
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 8; ++r) {
    readers.emplace_back([&] {
      Client c(to_leader);
      KV kv(c);
      while (!stop) {
        if (kv.Get("/thawed/0").ok()) ++reads;
      }
    });
  }
  const uint64_t term = MaxTerm(cluster);
  cluster.Signal(frozen, SIGSTOP);
  // The fault's length, not a wait for a condition: the load goes on (the writes commit with
  // the other follower) while the follower stays frozen.
  const int acked_before = writer.acked();
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const bool wrote_while_frozen = writer.acked() > acked_before;
  cluster.Signal(frozen, SIGCONT);
  // Caught up under the same load, then 3 s more of it: the term must not have moved.
  const bool caught_up = Eventually(
      [&] {
        auto mine = cluster.Status(frozen);
        auto lead = cluster.Status(leader);
        return mine && lead && mine->raft_applied_index() + 100 >= lead->raft_index();
      },
      std::chrono::seconds(20));
  const int reads_before = reads;
  // Again a length, not a wait: the window in which a deposed leader would show.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const uint64_t term_after = MaxTerm(cluster);
  stop = true;
  for (auto& t : readers) t.join();
  writer.Stop();
  std::printf("thawed follower: %d writes, %d reads; term %llu -> %llu\n", writer.acked(),
              reads.load(), static_cast<unsigned long long>(term),
              static_cast<unsigned long long>(term_after));
  EXPECT_TRUE(wrote_while_frozen);
  EXPECT_TRUE(caught_up);
  EXPECT_GT(reads.load(), reads_before) << "no read was answered after the thaw";
  EXPECT_EQ(term_after, term) << "the leader lost its leadership to a follower's pause";
  EXPECT_TRUE(writer.failures().empty()) << writer.failures().front();
}

TEST(OperationsTest, MembershipChangesUnderWriteLoadFailNoWrite) {
  ProcessCluster cluster(3);
  const int leader = cluster.WaitForLeader();
  ASSERT_GE(leader, 0);
  SteadyWriter writer(cluster, "/membership/");
  Client admin(Options(cluster));
  ASSERT_TRUE(writer.Advance(200));

  // A learner joins while writes flow. Until it runs and catches up, promoting it is refused.
  const int fourth = cluster.AddMemberSlot();
  const pb::Envelope add = cluster.MemberAddRequest(fourth, /*learner=*/true);
  auto added = admin.Call(add);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  const uint64_t learner = added->member_add_response().member().id();
  pb::Envelope promote;
  promote.mutable_member_promote()->set_id(learner);
  auto early = MemberChange(admin, promote);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), StatusCode::kFailedPrecondition) << early.status().ToString();
  EXPECT_NE(early.status().message().find("behind"), std::string::npos)
      << early.status().ToString();
  cluster.Start(fourth);
  ASSERT_TRUE(Eventually(
      [&] {
        auto r = MemberChange(admin, promote);
        return r.ok();
      },
      std::chrono::seconds(20)))
      << "the learner never caught up enough to be promoted";
  ASSERT_TRUE(writer.Advance(100));

  // Remove one of the first members (not the leader): the cluster keeps writing, the removed
  // member's data directory refuses to start, and its id is never given out again.
  const int gone = (cluster.WaitForLeader() + 1) % 3;
  auto gone_status = cluster.Status(gone);
  ASSERT_TRUE(gone_status.has_value());
  pb::Envelope remove;
  remove.mutable_member_remove()->set_id(gone_status->header().member_id());
  auto removed = MemberChange(admin, remove);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  ASSERT_TRUE(writer.Advance(100));
  cluster.Kill(gone);
  cluster.Start(gone);
  const int exit_status = cluster.WaitExit(gone, std::chrono::seconds(10));
  EXPECT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) != 0);
  EXPECT_NE(cluster.Log(gone).find("removed"), std::string::npos);
  pb::Envelope again;
  again.mutable_member_add()->set_name(cluster.name(gone));
  again.mutable_member_add()->add_peer_urls(cluster.peer(gone));
  auto readded = MemberChange(admin, again);
  ASSERT_FALSE(readded.ok());
  EXPECT_EQ(readded.status().code(), StatusCode::kInvalidArgument) << readded.status().ToString();
  EXPECT_NE(readded.status().message().find("never reused"), std::string::npos);
  ASSERT_TRUE(writer.Advance(100));

  writer.Stop();
  const auto failures = writer.failures();
  std::printf("membership changes: %d writes acknowledged, %zu failed\n", writer.acked(),
              failures.size());
  EXPECT_TRUE(failures.empty()) << failures.front();
  writer.ExpectAllPresent();
}

struct FloodOutcome {
  std::vector<double> refusal_ms;  // sorted
  size_t acked = 0;
  int other_errors = 0;
  int served_reads = 0;
};

// `connections` clients pinned to the leader each send `writes` pipelined 512-byte puts under
// `prefix`, never retried, while another client reads and keeps a lease alive.
FloodOutcome Flood(ProcessCluster& cluster, int leader, int connections, int writes,
                   const std::string& prefix) {
  Client reader(Options(cluster));
  KV reads(reader);
  client::Lease leases(reader);
  FloodOutcome out;
  auto lease = leases.Grant(30);
  EXPECT_TRUE(lease.ok()) << lease.status().ToString();
  if (!lease.ok()) return out;
  ClientOptions flood_options = Options(cluster);
  flood_options.endpoints = {cluster.client(leader)};
  std::vector<std::unique_ptr<Client>> flooders;
  for (int i = 0; i < connections; ++i) flooders.push_back(std::make_unique<Client>(flood_options));
  std::mutex mu;
  std::atomic<int> finished{0};
  const std::string value(512, 'x');
  for (int i = 0; i < writes; ++i) {
    for (int f = 0; f < connections; ++f) {
      pb::Envelope put;
      put.mutable_put()->set_key(prefix + std::to_string(f) + "/" + std::to_string(i));
      put.mutable_put()->set_value(value);
      const auto sent = std::chrono::steady_clock::now();
      flooders[f]->CallAsync(
          put, {.retry = client::RetryPolicy::kNever}, [&, sent](Result<pb::Envelope> r) {
            std::lock_guard lock(mu);
            if (r.ok()) {
              ++out.acked;
            } else if (r.status().code() == StatusCode::kResourceExhausted) {
              out.refusal_ms.push_back(
                  std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent)
                      .count());
            } else {
              ++out.other_errors;
            }
            ++finished;
          });
    }
  }
  while (finished < writes * connections) {
    auto r = reads.Get(prefix, {.prefix = true, .count_only = true},
                       {.timeout = std::chrono::seconds(5)});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(leases.KeepAliveOnce(lease->id(), {.timeout = std::chrono::seconds(5)}).ok());
    if (!r.ok()) break;
    ++out.served_reads;
  }
  EXPECT_TRUE(Eventually([&] { return finished == writes * connections; }));
  std::lock_guard lock(mu);
  std::sort(out.refusal_ms.begin(), out.refusal_ms.end());
  if (!out.refusal_ms.empty()) {
    std::printf(
        "flood over %d connection(s): %zu acknowledged, %zu refused (p50 %.2f ms, p99 %.2f ms), "
        "%d other errors, %d reads served meanwhile\n",
        connections, out.acked, out.refusal_ms.size(), out.refusal_ms[out.refusal_ms.size() / 2],
        out.refusal_ms[out.refusal_ms.size() * 99 / 100], out.other_errors, out.served_reads);
  }
  // Every acknowledged write is there.
  auto count = reads.Get(prefix, {.prefix = true, .count_only = true});
  EXPECT_TRUE(count.ok());
  if (count.ok()) {
    EXPECT_EQ(count->count(), static_cast<int64_t>(out.acked));
  }
  return out;
}

TEST(OperationsTest, AFloodOnOneConnectionIsRefusedAtItsInFlightLimit) {
  ProcessCluster cluster(3);
  const int leader = cluster.WaitForLeader();
  ASSERT_GE(leader, 0);
  const uint64_t term = MaxTerm(cluster);
  // Far more writes in flight on one connection than the server allows per connection
  // (1,024): the excess is refused at once, nothing queues without end.
  const FloodOutcome f = Flood(cluster, leader, 1, 6000, "/flood/");
  ASSERT_FALSE(f.refusal_ms.empty()) << "the flood was never refused";
  EXPECT_EQ(f.other_errors, 0);
  EXPECT_GT(f.served_reads, 0);
  EXPECT_EQ(MaxTerm(cluster), term) << "the flood cost the cluster its leader";
}

TEST(OperationsTest, AFloodFromManyConnectionsIsRefusedAtTheProposalQueueAndTheSdkBacksOff) {
  // A small proposal queue, so 16 connections within their own limits overflow it.
  ProcessCluster cluster(3, {"--max-pending-proposals", "256"});
  const int leader = cluster.WaitForLeader();
  ASSERT_GE(leader, 0);
  const uint64_t term = MaxTerm(cluster);
  // Meanwhile a service writes through the SDK with its default retries: refused writes are
  // retried after a backoff, so every one of them succeeds.
  SteadyWriter service(cluster, "/service/");
  const FloodOutcome f = Flood(cluster, leader, 16, 400, "/flood/");
  ASSERT_FALSE(f.refusal_ms.empty()) << "the flood was never refused";
  EXPECT_GT(f.acked, 0u);
  EXPECT_EQ(f.other_errors, 0);
  EXPECT_GT(f.served_reads, 0);
  EXPECT_EQ(MaxTerm(cluster), term) << "the flood cost the cluster its leader";
  service.Stop();
  EXPECT_TRUE(service.failures().empty()) << service.failures().front();
  EXPECT_GT(service.acked(), 0);
  service.ExpectAllPresent();
}

}  // namespace
}  // namespace pharos::testing
