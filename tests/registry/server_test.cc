// One pharosd member in this process, on loopback ports, reached through the wire protocol: what
// the server checks before it proposes anything.
#include "registry/server.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "client/sync_client.h"
#include "common/asio.h"
#include "kvstore/mvcc_store.h"
#include "tests/raft/rocks_test_db.h"
#include "tests/registry/free_port.h"

namespace pharos::registry {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(10);

// A single-member cluster served by an io_context thread of its own; stopped, and its data
// removed, when the test ends.
class OneMemberCluster {
 public:
  OneMemberCluster() : dir_(pharos::testing::TestRocksDb::FreshDir("server")) {
    const std::string host = "127.0.0.1:";
    client_ = host + std::to_string(pharos::testing::FreePort());
    const std::string peer = host + std::to_string(pharos::testing::FreePort());
    const std::string metrics = host + std::to_string(pharos::testing::FreePort());
    std::vector<std::string> args = {"pharosd",   "--name",           "n1",    "--data-dir",
                                     dir_,        "--listen-client",  client_, "--listen-peer",
                                     peer,        "--listen-metrics", metrics, "--initial-cluster",
                                     "n1=" + peer};
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    ParseOutcome parsed = ParseServerConfig(static_cast<int>(argv.size()), argv.data(), out, err);
    if (!parsed.run) throw std::runtime_error("flags: " + err.str());
    server_ = std::make_unique<Server>(io_, parsed.config);
    if (Status s = server_->Start(); !s.ok()) throw std::runtime_error(s.ToString());
    thread_ = std::thread([this] { io_.run(); });
  }
  ~OneMemberCluster() {
    boost::asio::post(io_, [this] { server_->Shutdown([this] { io_.stop(); }); });
    thread_.join();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  const std::string& client() const { return client_; }

 private:
  std::string dir_;
  std::string client_;
  boost::asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

// Calls `request` until `done` says its answer is the awaited one; false past the deadline.
template <typename Done>
bool CallUntil(client::SyncClient& c, const pb::Envelope& request, Done done) {
  for (const auto deadline = steady_clock::now() + kDeadline; steady_clock::now() < deadline;) {
    auto r = c.Call(request);
    if (r.ok() && done(*r)) return true;
    std::this_thread::sleep_for(milliseconds(10));  // between polls, not in place of a condition
  }
  return false;
}

// Every proposed entry is applied and none is in flight: the applied index, once it stays level
// with the commit index.
std::optional<uint64_t> SettledIndex(client::SyncClient& c) {
  pb::Envelope status;
  status.mutable_status_request();
  std::optional<uint64_t> index;
  if (!CallUntil(c, status, [&](const pb::Envelope& r) {
        const pb::StatusResponse& s = r.status_response();
        if (!s.is_leader() || s.raft_applied_index() != s.raft_index()) return false;
        index = s.raft_applied_index();
        return true;
      })) {
    return std::nullopt;
  }
  return index;
}

pb::Envelope Put(const std::string& key) {
  pb::Envelope put;
  put.mutable_put()->set_key(key);
  put.mutable_put()->set_value("v");
  return put;
}

// A TTL beyond etcd's MaxLeaseTTL overflows the leader's expiry clock: the lease would expire at
// once and take its keys with it. It is refused as etcd refuses it, before it is proposed — no
// entry reaches the log — and the apply path's refusal (MvccStoreTest) is only for entries
// already in a log.
TEST(ServerTest, ALeaseGrantWithATooLargeTtlIsRefusedBeforeItIsProposed) {
  OneMemberCluster cluster;
  client::SyncClient c({cluster.client()});
  // The member has published itself (that write is behind us) and serves writes.
  pb::Envelope list;
  list.mutable_member_list();
  ASSERT_TRUE(CallUntil(c, list, [](const pb::Envelope& r) {
    return r.member_list_response().members_size() == 1 &&
           r.member_list_response().members(0).client_urls_size() > 0;
  }));
  ASSERT_TRUE(CallUntil(c, Put("before"),
                        [](const pb::Envelope& r) { return r.status().code() == pb::OK; }));
  const std::optional<uint64_t> before = SettledIndex(c);
  ASSERT_TRUE(before.has_value());

  pb::Envelope grant;
  grant.mutable_lease_grant()->set_ttl(kv::kMaxLeaseTtlSeconds + 1);
  auto refused = c.Call(grant);
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->status().code(), pb::INVALID_ARGUMENT);
  EXPECT_EQ(refused->status().message(), kv::kTooLargeLeaseTtl);

  // The next write is the next entry: the refused grant took no index.
  auto after_put = c.Call(Put("after"));
  ASSERT_TRUE(after_put.ok() && after_put->status().code() == pb::OK);
  const std::optional<uint64_t> after = SettledIndex(c);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(*after, *before + 1) << "the refused grant was proposed";
  pb::Envelope leases;
  leases.mutable_lease_leases();
  auto listed = c.Call(leases);
  ASSERT_TRUE(listed.ok() && listed->status().code() == pb::OK);
  EXPECT_EQ(listed->lease_leases_response().leases_size(), 0);

  // At the limit, a grant goes through.
  grant.mutable_lease_grant()->set_ttl(kv::kMaxLeaseTtlSeconds);
  auto granted = c.Call(grant);
  ASSERT_TRUE(granted.ok());
  EXPECT_EQ(granted->status().code(), pb::OK) << granted->status().message();
}

}  // namespace
}  // namespace pharos::registry
