// Power cuts through pharosd itself: members run as pharosd-crashable (tests/cluster/
// crashable_pharosd_main.cc), whose RocksDB I/O goes through CrashFileSystem; SIGUSR2 cuts the
// power, throwing away every byte the member had not synced. Cutting every member at once is what
// a rack losing power does, and the one crash Raft's replication cannot hide: no member keeps a
// copy of what the others lost. SIGKILL alone keeps the page cache and cannot show a missing fsync
// (DESIGN.md §10). After every cut, each write acknowledged before it must be there, the same on
// every member, and the cluster must take writes again.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "client/kv.h"
#include "client/sync_client.h"
#include "tests/cluster/process_cluster.h"

namespace pharos::testing {
namespace {

using client::StatusOf;
using client::SyncClient;

constexpr int kPowerCutExitCode = 86;  // crashable_pharosd_main.cc

// What a writer knows of one key: the last value acknowledged (and the revision that wrote it),
// and the values sent after it whose outcome it never learned — the cut may have committed them.
struct KeyHistory {
  std::string acked_value;
  int64_t acked_revision = 0;
  std::vector<std::string> unknown_after;
};

// Writers that overwrite their own keys, one put after another, recording what each
// acknowledgement promised; stopped before the members restart.
class AckedWriters {
 public:
  AckedWriters(const ProcessCluster& cluster, int cycle, int threads) {
    for (int t = 0; t < threads; ++t) {
      client::ClientOptions o;
      o.endpoints = cluster.clients();
      o.timeout = std::chrono::seconds(2);
      clients_.push_back(std::make_unique<client::Client>(o));
    }
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, t, cycle] {
        client::KV kv(*clients_[t]);
        for (int i = 0; !stop_; ++i) {
          // Twenty keys a writer, so most keys are overwritten: a lost overwrite shows as an
          // older value, not only as a missing key.
          const std::string key = "/cut/w" + std::to_string(t) + "/k" + std::to_string(i % 20);
          const std::string value = "c" + std::to_string(cycle) + "-" + std::to_string(i);
          {
            std::lock_guard lock(mu_);
            keys_[key].unknown_after.push_back(value);
          }
          auto r = kv.Put(key, value);
          std::lock_guard lock(mu_);
          if (!r.ok()) continue;  // its outcome stays unknown: the cut may have committed it
          KeyHistory& h = keys_[key];
          h.acked_value = value;
          h.acked_revision = r->header().revision();
          h.unknown_after.clear();
          ++acked_;
        }
      });
    }
  }
  ~AckedWriters() { Stop(); }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  int acked() const { return acked_; }
  std::map<std::string, KeyHistory> keys() {
    std::lock_guard lock(mu_);
    return keys_;
  }

 private:
  std::vector<std::unique_ptr<client::Client>> clients_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int> acked_{0};
  std::mutex mu_;
  std::map<std::string, KeyHistory> keys_;
};

// The line the member printed as the power went, for the test's report.
std::string PowerCutLine(const std::string& log) {
  const size_t at = log.rfind("power cut:");
  if (at == std::string::npos) return "(no power-cut line in the log)";
  return log.substr(at, log.find('\n', at) - at);
}

class PowerCutTest : public ::testing::TestWithParam<int> {};

TEST_P(PowerCutTest, EveryAcknowledgedWriteSurvivesPowerCutsOfEveryMember) {
  const int nodes = GetParam();
  // The log is compacted every 100 applied entries, up to the applied index itself, so that it is
  // compacted many times between cuts: a compaction must never drop entries whose KV writes are
  // not yet durable.
  ProcessCluster cluster(nodes, {"--snapshot-count", "100", "--snapshot-catchup-entries", "0"},
                         /*start=*/false);
  // tests/durability_mutation_test.sh --process points this at a build with a durability bug.
  const char* binary = std::getenv("PHAROS_CRASHABLE_PHAROSD");
  cluster.UseBinary(binary != nullptr ? binary : CRASHABLE_PHAROSD_BINARY);
  for (int i = 0; i < nodes; ++i) cluster.Start(i);
  ASSERT_GE(cluster.WaitForLeader(std::chrono::seconds(20)), 0);

  std::map<std::string, KeyHistory> expected;
  int64_t max_acked_revision = 0;
  int total_acked = 0;
  constexpr int kCuts = 3;
  for (int cut = 0; cut < kCuts; ++cut) {
    {
      AckedWriters writers(cluster, cut, /*threads=*/4);
      // The cut lands while writes are in flight, some acknowledged, some not.
      ASSERT_TRUE(Eventually([&] { return writers.acked() >= 300; }, std::chrono::seconds(30)))
          << "only " << writers.acked() << " writes acknowledged before cut " << cut;
      for (int i = 0; i < nodes; ++i) cluster.Signal(i, SIGUSR2);
      for (int i = 0; i < nodes; ++i) {
        const int status = cluster.WaitExit(i, std::chrono::seconds(10));
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kPowerCutExitCode)
            << "member " << i << " did not go down with the power cut (status " << status << ")";
        std::printf("cut %d, member %d: %s\n", cut, i, PowerCutLine(cluster.Log(i)).c_str());
        std::fflush(stdout);  // before the next fork copies the buffer
      }
      writers.Stop();
      total_acked += writers.acked();
      for (auto& [key, h] : writers.keys()) {
        KeyHistory& e = expected[key];
        if (h.acked_revision > 0) {
          e = h;
          max_acked_revision = std::max(max_acked_revision, h.acked_revision);
        } else {  // nothing acknowledged this cut: the older promise holds, plus new unknowns
          e.unknown_after.insert(e.unknown_after.end(), h.unknown_after.begin(),
                                 h.unknown_after.end());
        }
      }
    }

    for (int i = 0; i < nodes; ++i) cluster.Start(i);
    const int leader = cluster.WaitForLeader(std::chrono::seconds(30));
    ASSERT_GE(leader, 0) << "no leader after power cut " << cut;
    SyncClient c({cluster.client(leader)});
    // A write goes through, and its revision is past every acknowledged one.
    pb::Envelope put;
    put.mutable_put()->set_key("/cut/after");
    put.mutable_put()->set_value(std::to_string(cut));
    auto after = c.Call(put);
    ASSERT_TRUE(after.ok() && StatusOf(*after).ok()) << "no write after power cut " << cut;
    const int64_t revision = after->put_response().header().revision();
    EXPECT_GT(revision, max_acked_revision) << "the revision went back after power cut " << cut;

    for (const auto& [key, h] : expected) {
      pb::Envelope get;
      get.mutable_range()->set_key(key);
      auto r = c.Call(get);
      ASSERT_TRUE(r.ok() && StatusOf(*r).ok()) << key;
      const auto& kvs = r->range_response().kvs();
      if (h.acked_revision == 0) continue;  // never acknowledged: may or may not exist
      ASSERT_EQ(kvs.size(), 1) << key << " (acknowledged at revision " << h.acked_revision
                               << ") is gone after power cut " << cut;
      const pb::KeyValue& got = kvs[0];
      if (got.mod_revision() == h.acked_revision) {
        EXPECT_EQ(got.value(), h.acked_value) << key;
      } else {
        // Only a later put may have replaced it, one whose outcome the writer never learned.
        EXPECT_GT(got.mod_revision(), h.acked_revision)
            << key << " went back from revision " << h.acked_revision << " after cut " << cut;
        EXPECT_NE(std::find(h.unknown_after.begin(), h.unknown_after.end(), got.value()),
                  h.unknown_after.end())
            << key << " holds " << got.value() << ", never written after its acknowledged "
            << h.acked_value;
      }
    }

    // Every member holds the same state at that revision (once it has applied it).
    pb::Envelope hash;
    hash.mutable_hash_kv()->set_revision(revision);
    std::vector<uint32_t> hashes(nodes);
    ASSERT_TRUE(Eventually(
        [&] {
          for (int i = 0; i < nodes; ++i) {
            auto r = c.CallEndpoint(cluster.client(i), hash);
            if (!r.ok() || !StatusOf(*r).ok()) return false;
            hashes[i] = r->hash_kv_response().hash();
          }
          return true;
        },
        std::chrono::seconds(20)));
    for (int i = 1; i < nodes; ++i) EXPECT_EQ(hashes[i], hashes[0]) << "member " << i;
  }
  std::printf("%d members, %d power cuts: %d writes acknowledged over %zu keys, none lost\n", nodes,
              kCuts, total_acked, expected.size());
}

INSTANTIATE_TEST_SUITE_P(OneAndThreeMembers, PowerCutTest, ::testing::Values(1, 3),
                         [](const auto& info) { return std::to_string(info.param) + "Members"; });

}  // namespace
}  // namespace pharos::testing
