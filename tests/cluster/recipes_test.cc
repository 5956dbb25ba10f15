// Locks, elections and discovery on a real 3-node cluster, with contenders in their own
// processes where the issue asks for processes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "client/client.h"
#include "client/discovery.h"
#include "client/election.h"
#include "client/lock.h"
#include "client/registrar.h"
#include "tests/cluster/child_process.h"
#include "tests/cluster/process_cluster.h"

namespace pharos::testing {
namespace {

using client::Client;
using client::ClientOptions;

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(RecipesTest, FiveProcessesContendForOneLockWithoutOverlapAndWithRisingTokens) {
  ProcessCluster cluster(3);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  const std::string dir = ::testing::TempDir();
  const std::string holds = dir + "/lock_holds_" + std::to_string(getpid());
  std::remove(holds.c_str());
  constexpr int kProcesses = 5, kRounds = 10;
  std::vector<std::unique_ptr<Child>> children;
  for (int i = 0; i < kProcesses; ++i) {
    children.push_back(std::make_unique<Child>(
        std::vector<std::string>{RECIPE_CHILD, "lock", Join(cluster.clients()), "the-lock",
                                 std::to_string(kRounds), holds},
        dir + "/lock_child_" + std::to_string(i)));
  }
  for (auto& c : children) {
    const int status = c->Wait(std::chrono::seconds(90));
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
  struct Hold {
    int64_t token, start, end;
  };
  std::vector<Hold> all;
  std::istringstream in(ReadFile(holds));
  for (Hold h; in >> h.token >> h.start >> h.end;) all.push_back(h);
  ASSERT_EQ(all.size(), size_t{kProcesses * kRounds});
  std::sort(all.begin(), all.end(), [](const Hold& a, const Hold& b) { return a.start < b.start; });
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_LT(all[i - 1].end, all[i].start) << "holds " << i - 1 << " and " << i << " overlap";
    EXPECT_LT(all[i - 1].token, all[i].token) << "fencing tokens must rise with time";
  }
  std::remove(holds.c_str());
}

TEST(RecipesTest, AnElectionFailsOverWhenItsLeaderProcessDies) {
  ProcessCluster cluster(3);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  ClientOptions options;
  options.endpoints = cluster.clients();
  Client c(options);
  client::Election election(c, "scheduler", {.ttl_seconds = 2});
  std::mutex mu;
  std::vector<std::string> leaders;  // values as observed
  auto observer = election.Observe([&](const std::optional<pb::KeyValue>& kv) {
    std::lock_guard lock(mu);
    leaders.push_back(kv ? kv->value() : "");
  });

  const std::string out = ::testing::TempDir() + "/campaign_" + std::to_string(getpid());
  Child first({RECIPE_CHILD, "campaign", Join(cluster.clients()), "scheduler", "child"}, out);
  ASSERT_TRUE(Eventually([&] { return ReadFile(out).find("leader") != std::string::npos; },
                         std::chrono::seconds(20)));
  auto leader = election.Leader();
  ASSERT_TRUE(leader.ok() && leader->has_value());
  EXPECT_EQ((*leader)->value(), "child");

  // We queue behind the child; its death (no resign: its lease must expire) makes us leader.
  first.Kill();
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(election.Campaign("test", std::chrono::seconds(20)).ok());
  EXPECT_TRUE(election.is_leader());
  EXPECT_LT(std::chrono::steady_clock::now() - killed, std::chrono::seconds(10));
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(mu);
    return !leaders.empty() && leaders.back() == "test";
  }));
  {
    std::lock_guard lock(mu);
    EXPECT_NE(std::find(leaders.begin(), leaders.end(), "child"), leaders.end());
  }
  ASSERT_TRUE(election.Proclaim("test-2").ok());
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(mu);
    return leaders.back() == "test-2";
  }));
  ASSERT_TRUE(election.Resign().ok());
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(mu);
    return leaders.back().empty();
  }));
  std::remove(out.c_str());
}

TEST(RecipesTest, ALockHolderWhoseLeaseDiesLosesItAndTheNextOneGetsIt) {
  ProcessCluster cluster(3);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  ClientOptions options;
  options.endpoints = cluster.clients();
  Client c(options);
  std::atomic<int> lost{0};
  client::Lock first(c, "l", {.ttl_seconds = 5, .on_lost = [&] { ++lost; }});
  ASSERT_TRUE(first.Acquire(std::chrono::seconds(5)).ok());
  EXPECT_GT(first.deadline(), std::chrono::steady_clock::now());
  client::Lock second(c, "l");
  EXPECT_EQ(second.TryAcquire().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.Acquire(std::chrono::milliseconds(300)).code(), StatusCode::kDeadlineExceeded);
  // Revoke the holder's lease behind its back: it hears of it, and the lock moves on.
  const std::string& key = first.key();
  pb::Envelope revoke;
  revoke.mutable_lease_revoke()->set_id(std::stoll(key.substr(key.rfind('/') + 1), nullptr, 16));
  ASSERT_TRUE(c.Call(revoke).ok());
  ASSERT_TRUE(Eventually([&] { return lost.load() == 1; }));
  EXPECT_FALSE(first.held());
  ASSERT_TRUE(second.Acquire(std::chrono::seconds(5)).ok());
  EXPECT_GT(second.fencing_token(), first.fencing_token());
}

std::set<std::string> Ids(const std::vector<client::ServiceInstance>& v) {
  std::set<std::string> out;
  for (const auto& i : v) out.insert(i.id);
  return out;
}

TEST(RecipesTest, ADiscoveryCacheStaysExactAcrossALeaderKillAndAClientRestart) {
  ProcessCluster cluster(3);
  const int leader = cluster.WaitForLeader();
  ASSERT_GE(leader, 0);
  ClientOptions options;
  options.endpoints = cluster.clients();
  Client registrar_client(options);
  client::Registrar registrar(registrar_client, {.ttl_seconds = 5});
  auto instance = [](int i) {
    return client::ServiceInstance{"i-" + std::to_string(i),
                                   "greeter",
                                   "10.0.0.1",
                                   static_cast<uint16_t>(8000 + i),
                                   1,
                                   "zone-a",
                                   "1.0",
                                   {}};
  };
  std::set<std::string> expected;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(registrar.Register(instance(i)).ok());
    expected.insert(instance(i).id);
  }

  auto discovery_client = std::make_unique<Client>(options);
  std::mutex mu;
  std::map<std::string, int> added, removed;
  auto discovery = std::make_unique<client::Discovery>(
      *discovery_client, "greeter",
      client::DiscoveryOptions{.on_change = [&](const client::InstanceChange& ch) {
        std::lock_guard lock(mu);
        if (ch.kind == client::InstanceChange::Kind::kAdded) ++added[ch.instance.id];
        if (ch.kind == client::InstanceChange::Kind::kRemoved) ++removed[ch.instance.id];
      }});
  ASSERT_TRUE(discovery->WaitReady(std::chrono::seconds(10)).ok());
  EXPECT_EQ(Ids(discovery->Instances()), expected);

  cluster.Kill(leader);
  for (int i = 5; i < 10; ++i) {
    ASSERT_TRUE(registrar.Register(instance(i)).ok()) << i;
    expected.insert(instance(i).id);
  }
  for (int i : {1, 6}) {
    ASSERT_TRUE(registrar.Deregister("greeter", instance(i).id).ok());
    expected.erase(instance(i).id);
  }
  ASSERT_TRUE(Eventually([&] { return Ids(discovery->Instances()) == expected; },
                         std::chrono::seconds(20)));
  {
    std::lock_guard lock(mu);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(added[instance(i).id], 1) << i;  // no duplicates
    EXPECT_EQ(removed.size(), 2u);
    for (const auto& [id, n] : removed) EXPECT_EQ(n, 1) << id;
  }
  auto found = discovery->Find("i-7");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->port, 8007);

  // A client restart: a fresh cache agrees at once.
  discovery.reset();
  discovery_client = std::make_unique<Client>(options);
  client::Discovery again(*discovery_client, "greeter");
  ASSERT_TRUE(again.WaitReady(std::chrono::seconds(10)).ok());
  EXPECT_EQ(Ids(again.Instances()), expected);
}

TEST(RecipesTest, ARegistrarRegistersAgainAfterItsLeaseIsLost) {
  ProcessCluster cluster(3);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  ClientOptions options;
  options.endpoints = cluster.clients();
  Client c(options);
  std::atomic<int> reregistered{0};
  client::Registrar registrar(
      c, {.ttl_seconds = 5, .on_reregister = [&](const std::string&, const Status& s) {
            if (s.ok()) ++reregistered;
          }});
  client::ServiceInstance i{"a", "svc", "10.0.0.2", 9000, 3, "", "", {}};
  ASSERT_TRUE(registrar.Register(i).ok());
  const int64_t first_lease = registrar.LeaseOf("svc", "a");
  // The cluster loses the lease (as after a long partition): the record goes with it ...
  pb::Envelope revoke;
  revoke.mutable_lease_revoke()->set_id(first_lease);
  ASSERT_TRUE(c.Call(revoke).ok());
  // ... and the registrar puts it back under a new lease.
  ASSERT_TRUE(Eventually([&] { return reregistered.load() == 1; }));
  EXPECT_NE(registrar.LeaseOf("svc", "a"), first_lease);
  client::Discovery d(c, "svc");
  ASSERT_TRUE(d.WaitReady(std::chrono::seconds(5)).ok());
  auto back = d.Find("a");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, i);
}

}  // namespace
}  // namespace pharos::testing
