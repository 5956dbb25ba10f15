// Election against a scripted server: an observer that keeps reporting through a watch that ended
// and reads that failed, and a campaign that leaves the line when it cannot know whether it
// joined it.
#include "client/election.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/turn.h"
#include "tests/client/fake_server.h"

namespace pharos::client {
namespace {

using namespace std::chrono_literals;
using testing::FakeServer;

// The leaders an observer reported, for the test thread to wait on.
class Reports {
 public:
  void Add(const std::optional<pb::KeyValue>& kv) {
    std::lock_guard lock(mu_);
    values_.push_back(kv ? kv->value() : "<none>");
    cv_.notify_all();
  }
  bool WaitFor(const std::string& value, std::chrono::milliseconds deadline = 5s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, deadline,
                        [&] { return !values_.empty() && values_.back() == value; });
  }
  std::vector<std::string> values() const {
    std::lock_guard lock(mu_);
    return values_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> values_;
};

// What the scripted cluster holds under the election's prefix: one candidate, its value, and the
// revision.
class FakeElection {
 public:
  pb::Envelope RangeReply() {
    std::lock_guard lock(mu_);
    pb::Envelope e;
    e.mutable_status()->set_code(pb::OK);
    pb::RangeResponse* r = e.mutable_range_response();
    r->mutable_header()->set_revision(revision_);
    *r->add_kvs() = Leader();
    return e;
  }
  // A new value proclaimed; returns the watch event that announces it.
  pb::WatchResponse Proclaim(const std::string& value) {
    std::lock_guard lock(mu_);
    value_ = value;
    ++revision_;
    pb::WatchResponse w;
    w.mutable_header()->set_revision(revision_);
    pb::Event* ev = w.add_events();
    ev->set_type(pb::Event::PUT);
    *ev->mutable_kv() = Leader();
    return w;
  }
  int64_t revision() const {
    std::lock_guard lock(mu_);
    return revision_;
  }

 private:
  pb::KeyValue Leader() const {
    pb::KeyValue kv;
    kv.set_key("/elections/e/1");
    kv.set_value(value_);
    kv.set_create_revision(5);
    kv.set_mod_revision(revision_);
    return kv;
  }
  mutable std::mutex mu_;
  std::string value_ = "a";
  int64_t revision_ = 100;
};

bool IsCreate(const pb::Envelope& e) { return e.has_watch_create(); }

TEST(ElectionTest, AnObserverWhoseWatchWasCompactedKeepsReportingLeaderChanges) {
  FakeElection cluster;
  int creates = 0;  // the server's thread only
  FakeServer s([&](const pb::Envelope& req) {
    if (req.has_range())
      return FakeServer::Action{FakeServer::Action::Kind::kReply, cluster.RangeReply()};
    if (IsCreate(req) && creates++ == 0) {
      // The first watch resumes from a revision compaction has taken since.
      auto a = FakeServer::Error(pb::COMPACTED, "required revision has been compacted");
      a.reply.mutable_watch_response()->set_canceled(true);
      a.reply.mutable_watch_response()->set_compact_revision(cluster.revision() - 1);
      return a;
    }
    if (IsCreate(req)) return FakeServer::Ok(FakeServer::WatchCreated(7, cluster.revision()));
    return FakeServer::Ok();
  });
  Client c({.endpoints = {s.endpoint()}});
  Election election(c, "e");
  Reports reports;
  auto observer = election.Observe([&](const std::optional<pb::KeyValue>& kv) { reports.Add(kv); });
  ASSERT_TRUE(reports.WaitFor("a"));

  // The observer watches again, from after a fresh read of the leader.
  auto first = s.WaitForRequest(IsCreate);
  ASSERT_TRUE(first.has_value());
  auto second =
      s.WaitForRequest([&](const pb::Envelope& e) { return IsCreate(e) && e.id() != first->id(); });
  ASSERT_TRUE(second.has_value()) << "the observer stopped watching after its watch ended";
  EXPECT_EQ(second->watch_create().start_revision(), cluster.revision() + 1);

  pb::Envelope event;
  event.set_id(second->id());
  event.mutable_status()->set_code(pb::OK);
  *event.mutable_watch_response() = cluster.Proclaim("b");
  s.Push(event);
  EXPECT_TRUE(reports.WaitFor("b")) << "reported: " << reports.values().size();
}

TEST(ElectionTest, AnObserverRetriesAFailedReadUntilItSucceeds) {
  FakeElection cluster;
  int ranges = 0;  // the server's thread only
  FakeServer s([&](const pb::Envelope& req) {
    if (req.has_range()) {
      // A read the client does not retry by itself (the member's read index timed out).
      if (ranges++ < 3) return FakeServer::Error(pb::DEADLINE_EXCEEDED, "read index timed out");
      return FakeServer::Action{FakeServer::Action::Kind::kReply, cluster.RangeReply()};
    }
    if (IsCreate(req)) return FakeServer::Ok(FakeServer::WatchCreated(7, cluster.revision()));
    return FakeServer::Ok();
  });
  Client c({.endpoints = {s.endpoint()}});
  Election election(c, "e");
  Reports reports;
  auto observer = election.Observe([&](const std::optional<pb::KeyValue>& kv) { reports.Add(kv); });
  // Nothing changes under the prefix: only a retried read reports the leader.
  EXPECT_TRUE(reports.WaitFor("a")) << "the observer never read the leader again";
}

TEST(ElectionTest, ACampaignWhoseJoiningIsOfUnknownOutcomeLeavesTheLine) {
  constexpr int64_t kLease = 0x1234;
  FakeServer s([](const pb::Envelope& req) {
    if (req.has_lease_grant()) {
      pb::Envelope e;
      e.mutable_lease_grant_response()->set_id(kLease);
      e.mutable_lease_grant_response()->set_ttl(10);
      return FakeServer::Ok(e);
    }
    if (req.has_txn()) {
      auto a = FakeServer::Error(pb::UNAVAILABLE, "leadership lost; the outcome is unknown");
      a.reply.mutable_status()->set_outcome_unknown(true);
      return a;
    }
    return FakeServer::Ok();
  });
  Client c({.endpoints = {s.endpoint()}});
  Election election(c, "e");
  const Status st = election.Campaign("me", 300ms);
  ASSERT_EQ(st.code(), StatusCode::kOutcomeUnknown) << st.ToString();
  const std::string key = ContenderKey("/elections/e/", kLease);
  // Our key may be there, kept alive by our session: it would hold up every candidate behind it.
  auto del = s.WaitForRequest(
      [&](const pb::Envelope& e) { return e.has_delete_range() && e.delete_range().key() == key; },
      1s);
  EXPECT_TRUE(del.has_value()) << "the candidate stayed in line";
  EXPECT_FALSE(election.is_leader());
}

}  // namespace
}  // namespace pharos::client
