// pharosctl against a real 3-node cluster, as its users run it: the binary in a child process,
// its stdout, stderr and exit code checked. Long-running commands (watch, lock, elect, service
// register) run in the background and are stopped with SIGTERM, as a person's Ctrl-C or a
// supervisor would.
#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "client/client.h"
#include "client/kv.h"
#include "client/service_instance.h"
#include "common/snapshot_file.h"
#include "tests/cluster/pharosctl_runner.h"
#include "tests/cluster/process_cluster.h"
#include "tests/kvstore/kv_test_store.h"
#include "tests/registry/free_port.h"

namespace pharos::testing {
namespace {

using namespace std::chrono_literals;

class PharosctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(cluster_.WaitForLeader(), 0);
    for (const auto& c : cluster_.clients()) endpoints_ += (endpoints_.empty() ? "" : ",") + c;
  }
  // pharosctl against the cluster: global flags first, then `args`.
  std::vector<std::string> Args(std::vector<std::string> args) const {
    args.insert(args.begin(), "--endpoints=" + endpoints_);
    return args;
  }
  Outcome Ok(std::vector<std::string> args, const std::string& stdin_text = "") {
    Outcome r = Pharosctl(Args(std::move(args)), stdin_text);
    EXPECT_EQ(r.code, 0) << r.err;
    return r;
  }
  std::string Get(const std::string& key, std::vector<std::string> flags = {}) {
    flags.insert(flags.begin(), {"get", key});
    return Ok(flags).out;
  }
  int64_t Revision(const std::string& put_json) {
    pb::PutResponse r;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(put_json, &r).ok()) << put_json;
    return r.header().revision();
  }

  ProcessCluster cluster_{3};
  std::string endpoints_;
};

TEST_F(PharosctlTest, PutGetDelWithRangesRevisionsAndLimits) {
  const int64_t first = Revision(Ok({"-w", "json", "put", "/kv/a", "1"}).out);
  EXPECT_EQ(Ok({"put", "/kv/b", "2"}).out, "OK\n");
  EXPECT_EQ(Ok({"put", "/kv/c", "3"}).out, "OK\n");
  EXPECT_EQ(Ok({"put", "/kv/a", "one", "--prev-kv"}).out, "OK\n/kv/a\n1\n");
  // The value from stdin when VALUE is left out, byte for byte.
  EXPECT_EQ(Ok({"put", "/kw"}, "from\nstdin\n").out, "OK\n");
  EXPECT_EQ(Get("/kw", {"--print-value-only"}), "from\nstdin\n\n");

  EXPECT_EQ(Get("/kv/", {"--prefix"}), "/kv/a\none\n/kv/b\n2\n/kv/c\n3\n");
  EXPECT_EQ(Get("/kv/a", {"/kv/c"}), "/kv/a\none\n/kv/b\n2\n");  // [KEY, RANGE_END)
  EXPECT_EQ(Get("/kv/b", {"--from-key"}), "/kv/b\n2\n/kv/c\n3\n/kw\nfrom\nstdin\n\n");
  EXPECT_EQ(Get("/kv/", {"--prefix", "--limit", "2"}), "/kv/a\none\n/kv/b\n2\n");
  EXPECT_EQ(Get("/kv/", {"--prefix", "--keys-only"}), "/kv/a\n/kv/b\n/kv/c\n");
  EXPECT_EQ(Get("/kv/", {"--prefix", "--count-only"}), "3\n");
  EXPECT_EQ(Get("/kv/", {"--prefix", "--print-value-only"}), "one\n2\n3\n");
  EXPECT_EQ(Get("/kv/a", {"--rev=" + std::to_string(first)}), "/kv/a\n1\n");
  EXPECT_EQ(Get("/kv/a", {"--consistency=s"}), "/kv/a\none\n");
  // An absent key: nothing at all, and success, as etcdctl.
  Outcome absent = Ok({"get", "/nothing/here"});
  EXPECT_EQ(absent.out, "");
  EXPECT_EQ(absent.err, "");

  // JSON is the protobuf response, parseable back into it (bytes in base64).
  pb::RangeResponse range;
  const std::string json = Get("/kv/", {"--prefix", "-w", "json"});
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &range).ok()) << json;
  ASSERT_EQ(range.kvs_size(), 3);
  EXPECT_EQ(range.kvs(1).key(), "/kv/b");
  EXPECT_EQ(range.kvs(1).value(), "2");
  EXPECT_EQ(range.count(), 3);

  EXPECT_EQ(Ok({"del", "/kv/a", "--prev-kv"}).out, "1\n/kv/a\none\n");
  EXPECT_EQ(Ok({"del", "/kv/", "--prefix"}).out, "2\n");
  EXPECT_EQ(Ok({"del", "/kv/", "--prefix"}).out, "0\n");
  EXPECT_EQ(Get("/kv/", {"--prefix"}), "");

  // Compaction: the old revision is gone, and reading it is an operation error.
  const int64_t now = Revision(Ok({"-w", "json", "put", "/kv/z", "z"}).out);
  EXPECT_EQ(Ok({"compaction", std::to_string(now)}).out,
            "compacted revision " + std::to_string(now) + "\n");
  Outcome old = Pharosctl(Args({"get", "/kv/a", "--rev=" + std::to_string(first)}));
  EXPECT_EQ(old.code, 1);
  EXPECT_NE(old.err.find("Error: required revision has been compacted"), std::string::npos)
      << old.err;
}

TEST_F(PharosctlTest, UsageErrorsExit2AndOperationErrorsExit1) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"get"},                                 // KEY missing
           {"frobnicate"},                          // no such command
           {"lease", "revoke", "xyz"},              // not hex
           {"lease", "grant", "0"},                 // bad TTL
           {"lease", "grant", "ten"},               // bad TTL
           {"put", "k", "v", "--lease=nothex"},     // not hex
           {"get", "k", "--prefix", "--from-key"},  // two range ends
           {"--command-timeout=abc", "get", "k"},   // not a duration
           {"-w", "yaml", "get", "k"},              // no such format
           {"member", "remove", "zz"},              // not hex
           {"service", "register", "s", "i", "no-port"},
       }) {
    Outcome r = Pharosctl(Args(args));
    EXPECT_EQ(r.code, 2) << args[0] << " " << (args.size() > 1 ? args[1] : "") << ": " << r.err;
    EXPECT_FALSE(r.err.empty());
    EXPECT_EQ(r.out, "");
  }

  Outcome unknown_lease = Pharosctl(Args({"put", "k", "v", "--lease=ffff"}));
  EXPECT_EQ(unknown_lease.code, 1);
  EXPECT_EQ(unknown_lease.err, "Error: lease 000000000000ffff not found\n");
  EXPECT_EQ(Get("k"), "");  // and nothing was written

  // Nobody listens there: an operation error once the command timeout passes.
  const std::string dead = "127.0.0.1:" + std::to_string(FreePort());
  Outcome unreachable = Pharosctl({"--endpoints=" + dead, "--command-timeout=1s", "get", "k"});
  EXPECT_EQ(unreachable.code, 1);
  EXPECT_EQ(unreachable.err.rfind("Error: ", 0), 0) << unreachable.err;
  EXPECT_NE(unreachable.err.find(dead), std::string::npos) << unreachable.err;
  EXPECT_EQ(unreachable.out, "");
  // The old flag still works, and "http://" is tolerated.
  Outcome old_flag =
      Pharosctl({"--endpoints=http://" + dead, "--command-timeout-ms", "500", "get", "k"});
  EXPECT_EQ(old_flag.code, 1) << old_flag.err;
}

TEST_F(PharosctlTest, LeaseGrantAttachTimeToLiveRevoke) {
  Outcome granted = Ok({"lease", "grant", "60"});
  std::smatch m;
  ASSERT_TRUE(std::regex_match(granted.out, m,
                               std::regex("lease ([0-9a-f]{16}) granted with TTL\\(60s\\)\n")))
      << granted.out;
  const std::string id = m[1];

  EXPECT_EQ(Ok({"put", "/leased", "v", "--lease=" + id}).out, "OK\n");
  const std::string ttl = Ok({"lease", "timetolive", id, "--keys"}).out;
  EXPECT_TRUE(
      std::regex_match(ttl, std::regex("lease " + id +
                                       " granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached "
                                       "keys\\(\\[/leased\\]\\)\n")))
      << ttl;
  EXPECT_NE(Ok({"lease", "list"}).out.find(id + "\n"), std::string::npos);
  EXPECT_EQ(Ok({"lease", "keep-alive", id, "--once"}).out,
            "lease " + id + " keepalived with TTL(60)\n");
  pb::LeaseTimeToLiveResponse json;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  Ok({"-w", "json", "lease", "timetolive", id}).out, &json)
                  .ok());
  EXPECT_EQ(json.grantedttl(), 60);

  EXPECT_EQ(Ok({"lease", "revoke", id}).out, "lease " + id + " revoked\n");
  EXPECT_EQ(Get("/leased"), "");  // the key went with its lease
  EXPECT_EQ(Ok({"lease", "timetolive", id}).out, "lease " + id + " already expired\n");
  Outcome again = Pharosctl(Args({"lease", "revoke", id}));
  EXPECT_EQ(again.code, 1);
  EXPECT_EQ(again.err, "Error: lease " + id + " not found\n");
}

TEST_F(PharosctlTest, TxnFromStdinTakesTheBranchItsComparesChoose) {
  Ok({"put", "k1", "v1"});
  const std::string ops =
      "\n"
      "put k2 \"from success\"\n"
      "get k1\n"
      "\n"
      "put k2 'from failure'\n"
      "del k3\n"
      "\n";
  Outcome success = Ok({"txn"}, "value(\"k1\") = \"v1\"\nmod(\"k1\") > \"0\"\n" + ops);
  EXPECT_EQ(success.out, "SUCCESS\n\nOK\n\nk1\nv1\n");
  EXPECT_EQ(Get("k2", {"--print-value-only"}), "from success\n");

  Outcome failure = Ok({"txn"}, "value(\"k1\") = \"v1\"\nversion(\"k1\") = \"5\"\n" + ops);
  EXPECT_EQ(failure.out, "FAILURE\n\nOK\n\n0\n");
  EXPECT_EQ(Get("k2", {"--print-value-only"}), "from failure\n");

  Outcome bad = Pharosctl(Args({"txn"}), "mod(\"k1\") >> \"0\"\n\n\n");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("malformed comparison"), std::string::npos) << bad.err;
}

TEST_F(PharosctlTest, WatchPrintsEventsUntilSigterm) {
  const int64_t start = Revision(Ok({"-w", "json", "put", "/w/a", "1"}).out);
  // From the next revision, so nothing made after this line can be missed however fast.
  Ctl watch(Args({"watch", "/w/", "--prefix", "--prev-kv", "--rev=" + std::to_string(start + 1)}));
  Ok({"put", "/w/b", "2"});
  Ok({"put", "/outside", "x"});
  Ok({"put", "/w/a", "3"});
  Ok({"del", "/w/b"});
  const std::string expected =
      "PUT\n/w/b\n2\n"
      "PUT\n/w/a\n1\n/w/a\n3\n"  // with the previous key-value first
      "DELETE\n/w/b\n2\n/w/b\n\n";
  EXPECT_TRUE(Eventually([&] { return watch.out() == expected; })) << watch.out();
  watch.Signal(SIGTERM);
  EXPECT_EQ(watch.Wait(), 0) << watch.err();
  EXPECT_EQ(watch.out(), expected);
}

// The keys under a lock's or an election's prefix, one per line.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string line; std::getline(s, line);) out.push_back(line);
  return out;
}

TEST_F(PharosctlTest, LockRunsTheCommandWhileHoldingAndPassesItsExitCode) {
  // The command checks, from inside, that its lock is held — exactly one key — and says so by
  // exiting 7.
  const std::string check = std::string(PHAROSCTL_UNDER_TEST) + " --endpoints=" + endpoints_ +
                            " get --prefix --keys-only /locks/job/ | grep -c . | grep -qx 1 && "
                            "test -n \"$PHAROS_LOCK_KEY\" && exit 7; exit 1";
  Outcome r = Pharosctl(Args({"lock", "job", "sh", "-c", check}));
  EXPECT_EQ(r.code, 7) << r.err;
  EXPECT_EQ(Get("/locks/job/", {"--prefix"}), "");           // released after
  EXPECT_EQ(Ok({"lease", "list"}).out, "found 0 leases\n");  // and its lease revoked
  // etcdctl's "--" before the command works too, and a command killed by a signal reports it.
  EXPECT_EQ(Pharosctl(Args({"lock", "--ttl", "5", "job", "--", "sh", "-c", "exit 3"})).code, 3);
  EXPECT_EQ(Pharosctl(Args({"lock", "job", "sh", "-c", "kill -9 $$"})).code, 128 + SIGKILL);
  EXPECT_EQ(Get("/locks/job/", {"--prefix"}), "");
}

TEST_F(PharosctlTest, LockWaitsForTheHolderAndReleasesOnSigterm) {
  Ctl holder(Args({"lock", "L"}));
  ASSERT_TRUE(Eventually([&] { return holder.out().rfind("/locks/L/", 0) == 0; })) << holder.err();
  const std::string key = Lines(holder.out()).at(0);
  const std::string lease = key.substr(std::string("/locks/L/").size());
  EXPECT_EQ(Get("/locks/L/", {"--prefix", "--keys-only"}), key + "\n");

  // A second contender queues behind the holder; its command must not run meanwhile.
  const std::string marker = std::filesystem::temp_directory_path() /
                             ("pharosctl-lock-marker-" + std::to_string(getpid()));
  std::filesystem::remove(marker);
  Ctl waiter(Args({"lock", "L", "touch", marker}));
  ASSERT_TRUE(Eventually([&] {
    return Lines(Get("/locks/L/", {"--prefix", "--keys-only"})).size() == 2;
  }));
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_TRUE(holder.Running());

  holder.Signal(SIGTERM);
  EXPECT_EQ(holder.Wait(), 0) << holder.err();
  // The holder's lease is revoked, not left to expire...
  EXPECT_EQ(Ok({"lease", "timetolive", lease}).out,
            "lease " + std::string(16 - lease.size(), '0') + lease + " already expired\n");
  // ...so the waiter gets the lock at once, runs its command and releases.
  EXPECT_EQ(waiter.Wait(), 0) << waiter.err();
  EXPECT_TRUE(std::filesystem::exists(marker));
  std::filesystem::remove(marker);
  EXPECT_EQ(Get("/locks/L/", {"--prefix"}), "");

  // A contender interrupted while waiting leaves the line too.
  Ctl first(Args({"lock", "L"}));
  ASSERT_TRUE(Eventually([&] { return !first.out().empty(); }));
  Ctl second(Args({"lock", "L"}));
  ASSERT_TRUE(Eventually([&] {
    return Lines(Get("/locks/L/", {"--prefix", "--keys-only"})).size() == 2;
  }));
  second.Signal(SIGINT);
  EXPECT_EQ(second.Wait(), 1);
  EXPECT_NE(second.err().find("interrupted before the lock was acquired"), std::string::npos);
  EXPECT_EQ(Lines(Get("/locks/L/", {"--prefix", "--keys-only"})),
            std::vector<std::string>{Lines(first.out()).at(0)});
  first.Signal(SIGINT);
  EXPECT_EQ(first.Wait(), 0) << first.err();
  EXPECT_EQ(Ok({"lease", "list"}).out, "found 0 leases\n");
}

TEST_F(PharosctlTest, ElectAndObserveTheLeader) {
  Ctl alice(Args({"elect", "E", "alice"}));
  ASSERT_TRUE(Eventually([&] { return Lines(alice.out()).size() == 2; })) << alice.err();
  EXPECT_EQ(Lines(alice.out()).at(0).rfind("/elections/E/", 0), 0u);
  EXPECT_EQ(Lines(alice.out()).at(1), "alice");

  Ctl observer(Args({"elect", "-l", "E"}));
  ASSERT_TRUE(Eventually([&] { return observer.out() == alice.out(); })) << observer.out();

  Ctl bob(Args({"elect", "E", "bob"}));
  ASSERT_TRUE(Eventually([&] {
    return Lines(Get("/elections/E/", {"--prefix", "--keys-only"})).size() == 2;
  }));
  EXPECT_EQ(bob.out(), "");  // waiting in line behind alice

  alice.Signal(SIGTERM);
  EXPECT_EQ(alice.Wait(), 0) << alice.err();
  ASSERT_TRUE(Eventually([&] { return Lines(bob.out()).size() == 2; })) << bob.err();
  EXPECT_EQ(Lines(bob.out()).at(1), "bob");
  ASSERT_TRUE(Eventually([&] { return observer.out() == alice.out() + bob.out(); }))
      << observer.out();

  bob.Signal(SIGTERM);
  EXPECT_EQ(bob.Wait(), 0) << bob.err();
  observer.Signal(SIGINT);
  EXPECT_EQ(observer.Wait(), 0) << observer.err();
  EXPECT_EQ(Get("/elections/E/", {"--prefix"}), "");
  EXPECT_EQ(Ok({"lease", "list"}).out, "found 0 leases\n");
}

TEST_F(PharosctlTest, MemberListAndEndpointStatusAndHealth) {
  // A member shows as unstarted until it has published its name and client address.
  std::vector<std::string> members;
  ASSERT_TRUE(Eventually([&] {
    members = Lines(Ok({"member", "list"}).out);
    return members.size() == 3 &&
           std::none_of(members.begin(), members.end(), [](const std::string& line) {
             return line.find("unstarted") != std::string::npos;
           });
  })) << members.size();
  std::set<std::string> names;
  for (const auto& line : members) {
    // ID, STATUS, NAME, PEER ADDRS, CLIENT ADDRS, IS LEARNER
    std::smatch m;
    ASSERT_TRUE(std::regex_match(
        line, m, std::regex("([0-9a-f]+), started, (n[123]), [0-9.:]+, ([0-9.:]+), false")))
        << line;
    names.insert(m[2]);
  }
  EXPECT_EQ(names.size(), 3u);
  pb::MemberListResponse list;
  const std::string json = Ok({"-w", "json", "member", "list"}).out;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &list).ok()) << json;
  EXPECT_EQ(list.members_size(), 3);
  EXPECT_NE(Ok({"-w", "table", "member", "list"}).out.find("| STATUS  |"), std::string::npos);

  // Status asks every endpoint itself: three answers, three member ids, one leader.
  const auto status = nlohmann::json::parse(Ok({"-w", "json", "endpoint", "status"}).out);
  ASSERT_TRUE(status.is_array());
  ASSERT_EQ(status.size(), 3u);
  std::set<std::string> ids, endpoints;
  int leaders = 0;
  for (const auto& s : status) {
    endpoints.insert(s["Endpoint"].get<std::string>());
    ids.insert(s["Status"]["header"]["member_id"].get<std::string>());
    leaders += s["Status"].value("is_leader", false) ? 1 : 0;
  }
  const auto clients = cluster_.clients();
  EXPECT_EQ(endpoints, std::set<std::string>(clients.begin(), clients.end()));
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(leaders, 1);
  EXPECT_EQ(Lines(Ok({"endpoint", "status", "--cluster"}).out).size(), 3u);

  Outcome health = Ok({"endpoint", "health"});
  EXPECT_EQ(Lines(health.out).size(), 3u);
  for (const auto& line : Lines(health.out)) EXPECT_NE(line.find(" is healthy"), std::string::npos);
  // One endpoint nobody answers on: unhealthy, exit 1, the others still reported.
  const std::string dead = "127.0.0.1:" + std::to_string(FreePort());
  Outcome partial = Pharosctl(
      {"--endpoints=" + endpoints_ + "," + dead, "--command-timeout=1s", "endpoint", "health"});
  EXPECT_EQ(partial.code, 1);
  EXPECT_EQ(Lines(partial.out).size(), 3u);
  EXPECT_NE(partial.err.find(dead + " is unhealthy"), std::string::npos) << partial.err;
}

TEST_F(PharosctlTest, ServiceRegisterListWatchDeregister) {
  Ctl watch(Args({"service", "watch", "greeter"}));
  Ctl reg(Args({"service", "register", "greeter", "i1", "127.0.0.1:8080", "--weight", "3", "--zone",
                "z1", "--version", "v2", "--meta", "a=b", "--ttl", "5"}));
  ASSERT_TRUE(Eventually([&] { return !reg.out().empty(); })) << reg.err();
  std::smatch m;
  const std::string registered = reg.out();
  ASSERT_TRUE(std::regex_match(registered, m,
                               std::regex("registered /services/greeter/i1 with lease "
                                          "([0-9a-f]{16})\n")))
      << registered;
  const std::string lease = m[1];

  const std::string row = "greeter, i1, 127.0.0.1:8080, 3, z1, v2\n";
  EXPECT_EQ(Ok({"service", "list", "greeter"}).out, row);
  EXPECT_EQ(Ok({"service", "list"}).out, row);
  EXPECT_NE(Ok({"-w", "table", "service", "list"}).out.find("| greeter | i1 | 127.0.0.1:8080 |"),
            std::string::npos);
  auto record = client::InstanceFromJson(Get("/services/greeter/i1", {"--print-value-only"}));
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_EQ(record->metadata.at("a"), "b");
  ASSERT_TRUE(Eventually([&] { return watch.out() == "ADDED " + row; })) << watch.out();

  reg.Signal(SIGTERM);
  EXPECT_EQ(reg.Wait(), 0) << reg.err();
  EXPECT_EQ(Ok({"service", "list", "greeter"}).out, "");
  EXPECT_EQ(Ok({"lease", "timetolive", lease}).out, "lease " + lease + " already expired\n");
  ASSERT_TRUE(Eventually([&] { return watch.out() == "ADDED " + row + "REMOVED greeter, i1\n"; }))
      << watch.out();
  watch.Signal(SIGTERM);
  EXPECT_EQ(watch.Wait(), 0) << watch.err();

  // A record left behind by an owner that died: deregister deletes it and revokes its lease.
  const std::string granted = Ok({"lease", "grant", "60"}).out;
  ASSERT_TRUE(std::regex_search(granted, m, std::regex("[0-9a-f]{16}"))) << granted;
  const std::string orphan_lease = m[0];
  Ok({"put", "/services/db/x", R"({"id":"x","service":"db","address":"10.0.0.9","port":5432})",
      "--lease=" + orphan_lease});
  EXPECT_EQ(Ok({"service", "list"}).out, "db, x, 10.0.0.9:5432, 1, , \n");
  EXPECT_EQ(Ok({"service", "deregister", "db", "x"}).out,
            "deregistered /services/db/x and revoked lease " + orphan_lease + "\n");
  EXPECT_EQ(Ok({"service", "list"}).out, "");
  EXPECT_EQ(Ok({"lease", "timetolive", orphan_lease}).out,
            "lease " + orphan_lease + " already expired\n");
  Outcome gone = Pharosctl(Args({"service", "deregister", "db", "x"}));
  EXPECT_EQ(gone.code, 1);
  EXPECT_EQ(gone.err, "Error: /services/db/x is not registered\n");
}

TEST_F(PharosctlTest, MoveLeaderToAFollower) {
  const int leader = cluster_.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  auto from = cluster_.Status(leader);
  auto to = cluster_.Status(follower);
  ASSERT_TRUE(from && to);
  char from_hex[32], to_hex[32];
  std::snprintf(from_hex, sizeof(from_hex), "%llx",
                static_cast<unsigned long long>(from->header().member_id()));
  std::snprintf(to_hex, sizeof(to_hex), "%llx",
                static_cast<unsigned long long>(to->header().member_id()));
  Outcome moved = Ok({"move-leader", to_hex});
  EXPECT_EQ(moved.out,
            std::string("Leadership transferred from ") + from_hex + " to " + to_hex + "\n");
  // The command returns once the target leads; the members agree.
  EXPECT_EQ(cluster_.WaitForLeader(), follower);
}

TEST_F(PharosctlTest, SnapshotSaveWritesAVerifiedCopyThatRestores) {
  // Enough data for several chunks of the stream.
  client::Client sdk({.endpoints = cluster_.clients()});
  client::KV kv(sdk);
  const std::string value(1024, 'v');
  int64_t revision = 0;
  for (int i = 0; i < 800; ++i) {
    auto put = kv.Put("/snap/" + std::to_string(i), value);
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    revision = put->header().revision();
  }
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("pharosctl-snapshot-" + std::to_string(getpid()) + ".db"))
                               .string();
  std::filesystem::remove(path);
  // From the leader, which has applied every write it acknowledged.
  const int leader = cluster_.WaitForLeader();
  ASSERT_GE(leader, 0);
  Outcome saved = Pharosctl({"--endpoints=" + cluster_.client(leader), "snapshot", "save", path});
  ASSERT_EQ(saved.code, 0) << saved.err;
  ASSERT_TRUE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".part"));
  const uint64_t size = std::filesystem::file_size(path);
  EXPECT_EQ(saved.out, "Snapshot saved at " + path + " (revision " + std::to_string(revision) +
                           ", " + std::to_string(size) + " bytes)\n");
  EXPECT_GT(size, 800u * 1024u);

  // The file is the member's state: a verified snapshot file whose chunks restore to every key
  // at that revision.
  auto loaded = LoadSnapshotFile(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  std::filesystem::remove(path);
  EXPECT_EQ(loaded->info.header.revision, revision);
  EXPECT_EQ(loaded->info.header.key_count, 800u);
  const std::vector<std::string>& chunks = loaded->chunks;
  EXPECT_GE(chunks.size(), 2u);
  kv::testing::KvTestStore restored("pharosctl_snapshot_restore");
  ASSERT_TRUE(restored->Restore(chunks).ok());
  EXPECT_EQ(restored->revision(), revision);
  pb::RangeRequest all;
  all.set_key("/snap/");
  all.set_range_end(client::PrefixEnd("/snap/"));
  all.set_count_only(true);
  auto count = restored->Range(all);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->count(), 800);

  // One member's state: more than one endpoint is a usage error, and nothing is written.
  Outcome two = Pharosctl(Args({"snapshot", "save", path}));
  EXPECT_EQ(two.code, 2);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".part"));
}

TEST_F(PharosctlTest, AlarmDefragAndHashKVOnEveryMember) {
  EXPECT_EQ(Ok({"alarm", "list"}).out, "");  // no alarm on a fresh cluster
  EXPECT_NE(Ok({"-w", "json", "alarm", "list"}).out.find("\"header\""), std::string::npos);
  EXPECT_EQ(Ok({"alarm", "disarm"}).out, "All alarms disarmed\n");
  for (int i = 0; i < 50; ++i) Ok({"put", "/defrag/" + std::to_string(i), std::string(4096, 'd')});
  Ok({"del", "/defrag/", "--prefix"});
  const std::string out = Ok({"defrag", "--cluster"}).out;
  for (int i = 0; i < cluster_.size(); ++i) {
    EXPECT_NE(out.find("Finished defragmenting member[" + cluster_.client(i) + "]"),
              std::string::npos)
        << out;
  }
  // Every member holds the same state: one hash, the same on each line.
  const std::string rev = std::to_string(Revision(Ok({"-w", "json", "put", "/h", "x"}).out));
  std::string hashes;
  ASSERT_TRUE(Eventually([&] {
    Outcome h = Pharosctl(Args({"endpoint", "hashkv", "--cluster", "--rev", rev}));
    hashes = h.out;
    return h.code == 0;
  }));
  std::istringstream lines(hashes);
  std::set<std::string> distinct;
  int members = 0;
  for (std::string line; std::getline(lines, line); ++members) {
    distinct.insert(line.substr(line.find(", ") + 2));
  }
  EXPECT_EQ(members, cluster_.size()) << hashes;
  EXPECT_EQ(distinct.size(), 1u) << hashes;
  // A member that does not answer fails the command, after the others were done.
  Outcome dead = Pharosctl({"--endpoints=127.0.0.1:1", "--command-timeout=1s", "defrag"});
  EXPECT_EQ(dead.code, 1);
  EXPECT_NE(dead.err.find("Failed to defragment member[127.0.0.1:1]"), std::string::npos)
      << dead.err;
}

}  // namespace
}  // namespace pharos::testing
