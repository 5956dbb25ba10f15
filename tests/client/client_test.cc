#include "client/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "client/kv.h"
#include "common/asio.h"
#include "common/trace.h"
#include "tests/client/fake_server.h"
#include "tests/eventually.h"

namespace pharos::client {
namespace {

using testing::FakeServer;
using Kind = FakeServer::Action::Kind;

ClientOptions Options(std::vector<std::string> endpoints) {
  ClientOptions o;
  o.endpoints = std::move(endpoints);
  o.timeout = std::chrono::seconds(5);
  o.backoff_initial = std::chrono::milliseconds(1);
  o.backoff_max = std::chrono::milliseconds(5);
  return o;
}

pb::Envelope Put() {
  pb::Envelope e;
  e.mutable_put()->set_key("k");
  e.mutable_put()->set_value("v");
  return e;
}

pb::Envelope Get() {
  pb::Envelope e;
  e.mutable_range()->set_key("k");
  return e;
}

// Nothing listens there: connecting fails at once.
std::string DeadEndpoint() {
  FakeServer gone([](const pb::Envelope&) { return FakeServer::Ok(); });
  return gone.endpoint();
}

TEST(ClientTest, FollowsANotLeaderHintToTheLeader) {
  FakeServer leader([](const pb::Envelope&) { return FakeServer::Ok(); });
  FakeServer follower([&](const pb::Envelope&) {
    return FakeServer::Error(pb::NOT_LEADER, "not the leader", leader.endpoint());
  });
  Client c(Options({follower.endpoint()}));
  auto r = c.Call(Put());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(follower.requests(), 1);
  EXPECT_EQ(leader.requests(), 1);
  EXPECT_EQ(c.current_endpoint(), leader.endpoint());
  // Later calls go straight to the leader.
  ASSERT_TRUE(c.Call(Put()).ok());
  EXPECT_EQ(follower.requests(), 1);
}

TEST(ClientTest, AWriteWhoseConnectionDiesAfterSendingIsReportedUnknownAndNotRetried) {
  FakeServer dies([](const pb::Envelope&) { return FakeServer::Action{Kind::kClose, {}}; });
  FakeServer other([](const pb::Envelope&) { return FakeServer::Ok(); });
  Client c(Options({dies.endpoint(), other.endpoint()}));
  auto r = c.Call(Put());
  EXPECT_EQ(r.status().code(), StatusCode::kOutcomeUnknown) << r.status().ToString();
  EXPECT_EQ(dies.requests(), 1);
  EXPECT_EQ(other.requests(), 0);
}

TEST(ClientTest, AReadWhoseConnectionDiesIsRetriedOnAnotherMember) {
  FakeServer dies([](const pb::Envelope&) { return FakeServer::Action{Kind::kClose, {}}; });
  FakeServer other([](const pb::Envelope&) { return FakeServer::Ok(); });
  Client c(Options({dies.endpoint(), other.endpoint()}));
  auto r = c.Call(Get());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(dies.requests(), 1);
  EXPECT_EQ(other.requests(), 1);
}

TEST(ClientTest, AWriteRefusedBeforeProposalIsRetried) {
  std::atomic<int> n{0};
  FakeServer s([&](const pb::Envelope&) {
    if (n++ < 2) return FakeServer::Error(pb::UNAVAILABLE, "no leader");
    return FakeServer::Ok();
  });
  Client c(Options({s.endpoint()}));
  ASSERT_TRUE(c.Call(Put()).ok());
  EXPECT_EQ(s.requests(), 3);

  std::atomic<int> m{0};
  FakeServer busy([&](const pb::Envelope&) {
    if (m++ < 1) return FakeServer::Error(pb::RESOURCE_EXHAUSTED, "too many proposals pending");
    return FakeServer::Ok();
  });
  Client c2(Options({busy.endpoint()}));
  ASSERT_TRUE(c2.Call(Put()).ok());
  EXPECT_EQ(busy.requests(), 2);
}

TEST(ClientTest, AnUnreachableMemberIsSkippedForWritesToo) {
  FakeServer s([](const pb::Envelope&) { return FakeServer::Ok(); });
  Client c(Options({DeadEndpoint(), s.endpoint()}));
  auto r = c.Call(Put());  // never sent: safe to send elsewhere
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(s.requests(), 1);
}

TEST(ClientTest, TheServersOutcomeUnknownIsPassedOnNotRetried) {
  FakeServer s([](const pb::Envelope&) {
    auto a = FakeServer::Error(pb::UNAVAILABLE, "leadership lost; the outcome is unknown");
    a.reply.mutable_status()->set_outcome_unknown(true);
    return a;
  });
  Client c(Options({s.endpoint()}));
  EXPECT_EQ(c.Call(Put()).status().code(), StatusCode::kOutcomeUnknown);
  EXPECT_EQ(s.requests(), 1);
}

TEST(ClientTest, ErrorsThatAreTheAnswerAreNotRetried) {
  FakeServer s([](const pb::Envelope&) {
    return FakeServer::Error(pb::INVALID_ARGUMENT, "key is larger than 8 KiB");
  });
  Client c(Options({s.endpoint()}));
  auto r = c.Call(Get());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "key is larger than 8 KiB");
  EXPECT_EQ(s.requests(), 1);
}

TEST(ClientTest, TheDeadlineEndsACallThatGetsNoAnswer) {
  FakeServer silent([](const pb::Envelope&) { return FakeServer::Action{Kind::kIgnore, {}}; });
  Client c(Options({silent.endpoint()}));
  const auto start = std::chrono::steady_clock::now();
  auto w = c.Call(Put(), {.timeout = std::chrono::milliseconds(100)});
  EXPECT_EQ(w.status().code(), StatusCode::kOutcomeUnknown);  // it was sent: maybe applied
  auto r = c.Call(Get(), {.timeout = std::chrono::milliseconds(100)});
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(ClientTest, EveryRequestCarriesATraceparentAndTheCallersIsKept) {
  std::mutex mu;
  std::vector<std::string> seen;
  FakeServer s([&](const pb::Envelope& req) {
    std::lock_guard lock(mu);
    seen.push_back(req.traceparent());
    return FakeServer::Ok();
  });
  Client c(Options({s.endpoint()}));
  ASSERT_TRUE(c.Call(Get()).ok());
  pb::Envelope mine = Get();
  const std::string tp = NewTraceparent();
  mine.set_traceparent(tp);
  ASSERT_TRUE(c.Call(mine).ok());
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(TraceIdOf(seen[0]).size(), 32u);
  EXPECT_EQ(seen[1], tp);
}

TEST(ClientTest, ManyCallsShareOneConnection) {
  FakeServer s([](const pb::Envelope& req) {
    pb::Envelope reply;
    reply.mutable_put_response()->mutable_header()->set_revision(
        static_cast<int64_t>(req.put().value().size()));
    return FakeServer::Ok(reply);
  });
  Client c(Options({s.endpoint()}));
  KV kv(c);
  constexpr int kCalls = 200;
  std::atomic<int> ok{0};
  std::promise<void> all;
  for (int i = 0; i < kCalls; ++i) {
    kv.PutAsync("k", std::string(i, 'x'), {}, [&, i](Result<pb::PutResponse> r) {
      if (r.ok() && r->header().revision() == i) ++ok;
      if (ok == kCalls) all.set_value();
    });
  }
  ASSERT_EQ(all.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(s.connections(), 1);
}

TEST(ClientTest, ABlockingCallFromACallbackIsRefusedInsteadOfDeadlocking) {
  FakeServer s([](const pb::Envelope&) { return FakeServer::Ok(); });
  Client c(Options({s.endpoint()}));
  std::promise<StatusCode> code;
  c.Post([&] { code.set_value(c.Call(Get()).status().code()); });
  EXPECT_EQ(code.get_future().get(), StatusCode::kFailedPrecondition);
}

TEST(ClientTest, BackoffGrowsIsCappedAndJittered) {
  ClientOptions o = Options({"127.0.0.1:1"});
  o.backoff_initial = std::chrono::milliseconds(10);
  o.backoff_max = std::chrono::milliseconds(100);
  Client c(o);
  for (int i = 0; i < 50; ++i) {
    EXPECT_GE(c.Backoff(0).count(), 5);
    EXPECT_LT(c.Backoff(0).count(), 15);
    EXPECT_GE(c.Backoff(10).count(), 50);
    EXPECT_LT(c.Backoff(10).count(), 150);
  }
  std::set<int64_t> distinct;
  for (int i = 0; i < 50; ++i) distinct.insert(c.Backoff(3).count());
  EXPECT_GT(distinct.size(), 5u);
}

}  // namespace
}  // namespace pharos::client

namespace pharos::client {
namespace {

// After a leader dies, the others name it in NOT_LEADER hints until they elect a new one; a
// client that keeps following those hints to the dead member loses the time the election takes.
TEST(ClientTest, AMemberThatJustFailedIsNotRetriedOnAStaleHint) {
  testing::FakeServer dead([](const pb::Envelope&) {
    return testing::FakeServer::Action{Kind::kClose, {}};
  });
  testing::FakeServer leader([](const pb::Envelope&) { return testing::FakeServer::Ok(); });
  auto stale = [&](const pb::Envelope&) {
    return testing::FakeServer::Error(pb::NOT_LEADER, "not the leader", dead.endpoint());
  };
  testing::FakeServer f1(stale), f2(stale);
  Client c(Options({f1.endpoint(), f2.endpoint(), leader.endpoint()}));
  auto r = c.Call(Get());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(dead.connections(), 1);
  EXPECT_EQ(leader.requests(), 1);
}

}  // namespace
}  // namespace pharos::client

namespace pharos::client {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

using pharos::testing::Eventually;

// A paused member: it accepts connections (the kernel does that) but answers nothing, not even
// the liveness probes.
FakeServer::Action Silent(const pb::Envelope&) { return FakeServer::Action{Kind::kIgnore, {}}; }

ClientOptions FastKeepalive(std::vector<std::string> endpoints) {
  ClientOptions o = Options(std::move(endpoints));
  o.keepalive_time = milliseconds(100);
  o.keepalive_timeout = milliseconds(100);
  return o;
}

TEST(ClientTest, ASilentMemberIsDeclaredDeadAndReadsMoveToAHealthyOne) {
  std::atomic<int> probes{0};
  FakeServer silent([&](const pb::Envelope& req) {
    if (req.has_status_request()) ++probes;
    return Silent(req);
  });
  FakeServer healthy([](const pb::Envelope&) { return FakeServer::Ok(); });
  Client c(FastKeepalive({silent.endpoint(), healthy.endpoint()}));
  const auto start = SteadyClock::now();
  auto r = c.Call(Get());  // the call's own deadline is 5 s
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // 100 ms of silence, a probe, 100 ms more: ~200 ms; allow for a loaded machine.
  EXPECT_LT(SteadyClock::now() - start, std::chrono::seconds(2));
  EXPECT_GE(probes, 1);
  EXPECT_EQ(healthy.requests(), 1);
  // Later calls go to the healthy member directly.
  const int to_silent = silent.requests();
  ASSERT_TRUE(c.Call(Get()).ok());
  ASSERT_TRUE(c.Call(Put()).ok());
  EXPECT_EQ(silent.requests(), to_silent);
  EXPECT_EQ(healthy.requests(), 3);
  EXPECT_EQ(c.current_endpoint(), healthy.endpoint());
}

TEST(ClientTest, AWriteSentToASilentMemberIsReportedUnknownOnceItsConnectionIsDeclaredDead) {
  FakeServer silent(Silent);
  FakeServer healthy([](const pb::Envelope&) { return FakeServer::Ok(); });
  Client c(FastKeepalive({silent.endpoint(), healthy.endpoint()}));
  const auto start = SteadyClock::now();
  auto r = c.Call(Put());
  EXPECT_EQ(r.status().code(), StatusCode::kOutcomeUnknown) << r.status().ToString();
  EXPECT_NE(r.status().message().find("no answer from " + silent.endpoint()), std::string::npos)
      << r.status().ToString();
  EXPECT_LT(SteadyClock::now() - start, std::chrono::seconds(2));  // not the 5 s deadline
  EXPECT_EQ(healthy.requests(), 0);  // it was sent: not repeated elsewhere
}

TEST(ClientTest, AStreamOnASilentMemberEndsWithAnErrorSoItsOwnerCanReopenIt) {
  FakeServer silent(Silent);
  FakeServer healthy([](const pb::Envelope&) { return FakeServer::Ok(); });
  std::promise<Status> ended;  // before the client: its shutdown may still report to it
  std::atomic<bool> reported{false};
  Client c(FastKeepalive({silent.endpoint(), healthy.endpoint()}));
  pb::Envelope watch;
  watch.mutable_watch_create()->set_key("k");
  auto stream = c.OpenStream(watch, "", [&](Result<pb::Envelope> m) {
    if (!m.ok() && !reported.exchange(true)) ended.set_value(m.status());
  });
  auto f = ended.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_EQ(f.get().code(), StatusCode::kUnavailable);
  EXPECT_EQ(c.current_endpoint(), healthy.endpoint());  // where a reopened watch would go
  stream->Close();
}

TEST(ClientTest, ProbesAreSentOnlyWhileAnswersAreOwed) {
  std::atomic<int> probes{0};
  FakeServer s([&](const pb::Envelope& req) {
    if (req.has_status_request()) ++probes;
    if (req.has_put()) return FakeServer::Action{Kind::kIgnore, {}};  // owed until the deadline
    return FakeServer::Ok();
  });
  ClientOptions o = Options({s.endpoint()});
  o.keepalive_time = milliseconds(20);
  o.keepalive_timeout = milliseconds(200);
  Client c(o);
  std::promise<Result<pb::Envelope>> put;
  c.CallAsync(Put(), {.timeout = milliseconds(300)},
              [&](Result<pb::Envelope> r) { put.set_value(std::move(r)); });
  // While the put is owed, the silence is probed; the probes are answered, so the connection lives.
  ASSERT_TRUE(Eventually([&] { return probes >= 3; }));
  auto r = put.get_future().get();
  EXPECT_EQ(r.status().code(), StatusCode::kOutcomeUnknown) << r.status().ToString();
  EXPECT_EQ(r.status().message().find("no answer from"), std::string::npos)
      << "a member that answers its probes was declared dead: " << r.status().ToString();
  // Owing nothing now. Proving an absence needs a bounded wait: 15 keepalive periods, in which
  // an idle connection that probed would send about 15 probes. One probe may have been on its
  // way when the put was given up.
  const int owed_probes = probes;
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_LE(probes, owed_probes + 1);
  ASSERT_TRUE(c.Call(Get()).ok());
  EXPECT_EQ(s.connections(), 1);
}

// A lease keepalive loop sends short calls (kNever, 500 ms) one after another. Each gives up on its
// own deadline, before a keepalive_time + keepalive_timeout of silence; the silence they share
// must still add up to a verdict, or the loop would keep renewing at a dead member until the
// lease ran out.
TEST(ClientTest, ShortCallsToASilentMemberAddUpToAVerdict) {
  FakeServer silent(Silent);
  Client c(FastKeepalive({silent.endpoint()}));
  Status last;
  ASSERT_TRUE(Eventually([&] {
    last = c.Call(Get(), {.timeout = milliseconds(150), .retry = RetryPolicy::kNever}).status();
    return last.code() != StatusCode::kDeadlineExceeded;
  })) << last.ToString();
  EXPECT_EQ(last.code(), StatusCode::kUnavailable) << last.ToString();
  EXPECT_NE(last.message().find("no answer from"), std::string::npos) << last.ToString();
}

// A listening socket whose accept queue is full: the kernel drops further SYNs, so a connect to
// it neither completes nor fails (the client's SYN retries go on for over a minute).
class Blackhole {
 public:
  Blackhole() {
    acceptor_.open(asio::ip::tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen(0);  // Linux queues one connection beyond a backlog of 0
    filler_.connect(acceptor_.local_endpoint());  // never accepted: the queue stays full
  }
  std::string endpoint() const {
    return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_{io_};
  asio::ip::tcp::socket filler_{io_};
};

TEST(ClientTest, AConnectThatNeverCompletesIsGivenUpAfterTheDialTimeout) {
  Blackhole hole;
  FakeServer healthy([](const pb::Envelope&) { return FakeServer::Ok(); });
  ClientOptions o = Options({hole.endpoint(), healthy.endpoint()});
  o.dial_timeout = milliseconds(100);
  Client c(o);
  const auto start = SteadyClock::now();
  auto r = c.Call(Put());  // never sent: safe to send to the next member
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_LT(SteadyClock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(healthy.requests(), 1);
  EXPECT_EQ(c.current_endpoint(), healthy.endpoint());
}

TEST(ClientTest, AnAlwaysRetriedWriteThatGetsNoAnswerIsReportedUnknown) {
  FakeServer silent(Silent);
  Client c(Options({silent.endpoint()}));
  auto w = c.Call(Put(), {.timeout = milliseconds(100), .retry = RetryPolicy::kAlways});
  EXPECT_EQ(w.status().code(), StatusCode::kOutcomeUnknown) << w.status().ToString();
  // A read has no outcome to be unknown: it stays a plain deadline.
  auto r = c.Call(Get(), {.timeout = milliseconds(100), .retry = RetryPolicy::kAlways});
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
}

TEST(ClientTest, AnAlwaysRetriedWriteSentBeforeItsConnectionDiedIsReportedUnknownWhenItGivesUp) {
  FakeServer dies([](const pb::Envelope&) { return FakeServer::Action{Kind::kClose, {}}; });
  const std::string nobody = DeadEndpoint();
  Client c(Options({dies.endpoint(), nobody}));
  auto w = c.Call(Put(), {.timeout = milliseconds(300), .retry = RetryPolicy::kAlways});
  EXPECT_EQ(w.status().code(), StatusCode::kOutcomeUnknown) << w.status().ToString();
  EXPECT_GE(dies.requests(), 1);
  // The last error is named, for the operator.
  EXPECT_NE(w.status().message().find("cannot connect to " + nobody), std::string::npos)
      << w.status().ToString();
}

}  // namespace
}  // namespace pharos::client
