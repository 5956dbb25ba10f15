// Discovery against a scripted member: what on_change reports as records come, change and go,
// and that on_change may read the Discovery for as long as it can run — the documented way to
// feed a balancer — including while the Discovery is being destroyed.
#include "client/discovery.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/service_instance.h"
#include "tests/client/fake_prefix_server.h"
#include "tests/client/thread_state.h"
#include "tests/eventually.h"

namespace pharos::client {
namespace {

using namespace std::chrono_literals;
using testing::CurrentThreadId;
using testing::Eventually;
using testing::FakePrefixServer;
using testing::ThreadIsAsleep;

std::string Record(const std::string& id, uint16_t port = 8080) {
  return ToJson({.id = id, .service = "svc", .address = "10.0.0.1", .port = port});
}

// on_change's reports, as "<id> added|updated|removed", readable from the test thread.
class Changes {
 public:
  void Add(const InstanceChange& change) {
    static const char* kNames[] = {"added", "updated", "removed"};
    std::lock_guard lock(mu_);
    seen_.push_back(change.instance.id + " " + kNames[static_cast<int>(change.kind)]);
  }
  std::vector<std::string> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  // Until a report on instance `id` has come.
  bool WaitFor(const std::string& id) const {
    return Eventually([&] {
      for (const std::string& report : seen()) {
        if (report.substr(0, report.find(' ')) == id) return true;
      }
      return false;
    });
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> seen_;
};

TEST(DiscoveryTest, ARecordOverwrittenWithGarbageIsRemovedAndComesBackAsAdded) {
  FakePrefixServer server;
  Client client({.endpoints = {server.endpoint()}});
  Changes changes;
  Discovery discovery(client, "svc",
                      {.on_change = [&](const InstanceChange& c) { changes.Add(c); }});
  ASSERT_TRUE(discovery.WaitReady(5s).ok());
  ASSERT_TRUE(server.WaitForWatch());

  server.Put("/services/svc/a", Record("a"));
  ASSERT_TRUE(changes.WaitFor("a"));
  server.Put("/services/svc/a", "{not an instance");
  // Changes are reported in order, so once "b" is in, so is whatever the garbage caused.
  server.Put("/services/svc/b", Record("b"));
  ASSERT_TRUE(changes.WaitFor("b"));
  EXPECT_EQ(discovery.Instances().size(), 1u) << "a is no longer an instance";
  EXPECT_FALSE(discovery.Find("a").has_value());
  server.Put("/services/svc/a", Record("a", 9090));
  server.Put("/services/svc/c", Record("c"));
  ASSERT_TRUE(changes.WaitFor("c"));

  const std::vector<std::string> expected = {"a added", "a removed", "b added", "a added",
                                             "c added"};
  EXPECT_EQ(changes.seen(), expected);
}

TEST(DiscoveryTest, GarbageNeverReportedIsNotReportedRemoved) {
  FakePrefixServer server;
  server.Put("/services/svc/junk", "junk");
  Client client({.endpoints = {server.endpoint()}});
  Changes changes;
  Discovery discovery(client, "svc",
                      {.on_change = [&](const InstanceChange& c) { changes.Add(c); }});
  ASSERT_TRUE(discovery.WaitReady(5s).ok());
  ASSERT_TRUE(server.WaitForWatch());
  server.Put("/services/svc/junk", "still junk");
  server.Delete("/services/svc/junk");
  server.Put("/services/svc/b", Record("b"));
  ASSERT_TRUE(changes.WaitFor("b"));
  EXPECT_EQ(changes.seen(), std::vector<std::string>{"b added"});
}

TEST(DiscoveryTest, OnChangeReadsTheDiscoveryFromTheFirstChangeOfTheFirstList) {
  FakePrefixServer server;
  server.Put("/services/svc/a", Record("a"));
  server.Put("/services/svc/b", Record("b"));
  Client client({.endpoints = {server.endpoint()}});
  std::mutex mu;
  std::vector<size_t> sizes;
  // As the header shows it: the callback names the object it is being passed to.
  Discovery discovery(client, "svc", {.on_change = [&](const InstanceChange&) {
                        const size_t n = discovery.Instances().size();
                        std::lock_guard lock(mu);
                        sizes.push_back(n);
                      }});
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(mu);
    return sizes.size() == 2;
  }));
  std::lock_guard lock(mu);
  // The cache holds the whole list before the first report of it.
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 2}));
}

// The destructor waits for a callback in progress; that callback may still read the Discovery,
// so the cache must still be there while the destructor waits.
TEST(DiscoveryTest, OnChangeInProgressReadsTheDiscoveryWhileItIsDestroyed) {
  FakePrefixServer server;
  server.Put("/services/svc/a", Record("a"));
  Client client({.endpoints = {server.endpoint()}});
  std::atomic<bool> in_callback = false;
  std::atomic<pid_t> destroyer = 0;
  std::atomic<bool> destroyer_waited = false;
  std::atomic<int> instances_seen = -1;
  Discovery* discovery = nullptr;
  discovery = new Discovery(client, "svc", {.on_change = [&](const InstanceChange& change) {
                              if (change.instance.id != "b") return;
                              in_callback = true;
                              // Hold this callback until the destructor is blocked waiting for
                              // it, then read the Discovery as a balancer feed does.
                              destroyer_waited = Eventually([&] {
                                const pid_t tid = destroyer.load();
                                return tid != 0 && ThreadIsAsleep(tid);
                              });
                              instances_seen = static_cast<int>(discovery->Instances().size());
                            }});
  ASSERT_TRUE(discovery->WaitReady(5s).ok());
  ASSERT_TRUE(server.WaitForWatch());
  server.Put("/services/svc/b", Record("b"));
  ASSERT_TRUE(Eventually([&] { return in_callback.load(); }));
  destroyer = CurrentThreadId();
  delete discovery;
  EXPECT_TRUE(destroyer_waited) << "the destructor never blocked on the callback";
  EXPECT_EQ(instances_seen, 2);
}

}  // namespace
}  // namespace pharos::client
