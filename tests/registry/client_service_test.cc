// ClientService on loopback, with raw sockets as clients: what a connection costs the member when
// its client stops reading, and accepting after the process ran out of file descriptors.
#include "registry/client_service.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "client/client.h"
#include "common/asio.h"
#include "common/metrics.h"
#include "tests/eventually.h"
#include "tests/raw_connection.h"

namespace pharos::registry {
namespace {

using pharos::testing::Eventually;
using pharos::testing::RawConnection;

double CounterValue(const std::string& name) { return Metrics::Global().counter(name, "").value(); }

// A ClientService whose io_context runs on a thread of its own, answering every request with
// `answer` (called on that thread).
class RunningService {
 public:
  RunningService(ClientServiceOptions options,
                 std::function<pb::Envelope(const pb::Envelope&)> answer)
      : service_(
            io_, std::move(options),
            [answer](std::shared_ptr<Connection> c, pb::Envelope env) {
              c->Send(answer(env));
              c->Done();
            },
            nullptr) {
    if (Status s = service_.Start(); !s.ok()) throw std::runtime_error(s.ToString());
    thread_ = std::thread([this] {
      auto work = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  ~RunningService() {
    boost::asio::post(io_, [this] {
      service_.CloseAll();
      io_.stop();
    });
    thread_.join();
  }
  uint16_t port() const { return service_.port(); }

 private:
  boost::asio::io_context io_;
  ClientService service_;
  std::thread thread_;
};

pb::Envelope Ok(const pb::Envelope& request) { return Reply(request, Status::Ok()); }

// Lowers the process's file descriptor limit to its lowest free descriptor, so that no new one
// can be opened, until Restore or the end of the scope.
class NoFreeFileDescriptors {
 public:
  NoFreeFileDescriptors() {
    getrlimit(RLIMIT_NOFILE, &saved_);
    const int lowest_free = dup(0);
    close(lowest_free);
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
    setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~NoFreeFileDescriptors() { Restore(); }
  void Restore() { setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};

// Before, the first failed accept ended the accept loop for good: once the process had run out of
// file descriptors, the member never took a client connection again, even after they were freed.
TEST(ClientServiceTest, AcceptingGoesOnAfterTheProcessRanOutOfFileDescriptors) {
  RunningService service({.listen = "127.0.0.1:0"}, Ok);
  RawConnection client;  // its descriptor, made before there are none
  const double errors_before = CounterValue("pharos_client_accept_errors_total");
  {
    NoFreeFileDescriptors none;
    // The kernel completes the connection; the member's accept fails with EMFILE.
    ASSERT_TRUE(client.Connect("127.0.0.1:" + std::to_string(service.port())));
    ASSERT_TRUE(Eventually(
        [&] { return CounterValue("pharos_client_accept_errors_total") > errors_before; }));
  }
  pb::Envelope status;
  status.set_id(7);
  status.mutable_status();
  ASSERT_TRUE(client.Send(status));
  auto reply = client.Next(std::chrono::seconds(10));
  ASSERT_TRUE(reply.has_value()) << "the connection was never accepted";
  EXPECT_EQ(reply->id(), 7u);
}

// Before, a connection was read however much of its answers its client had left unread: a client
// that sent requests and read nothing had every answer queued in the member's memory.
TEST(ClientServiceTest, AConnectionWhoseClientReadsNothingIsNotReadEither) {
  constexpr size_t kPauseAt = 1 << 20;
  constexpr size_t kAnswerBytes = 64 * 1024;
  std::atomic<size_t> most_unsent{0};
  RunningService service(
      {.listen = "127.0.0.1:0", .pause_reading_at_unsent_bytes = kPauseAt},
      [&](const pb::Envelope& request) {
        most_unsent = std::max(most_unsent.load(), ClientService::UnsentBytes());
        pb::Envelope out = Ok(request);
        out.mutable_range_response()->add_kvs()->set_value(std::string(kAnswerBytes, 'a'));
        return out;
      });
  RawConnection client;
  ASSERT_TRUE(client.Connect("127.0.0.1:" + std::to_string(service.port())));
  const double pauses_before = CounterValue("pharos_client_read_pauses_total");

  // 400 requests of 16 KiB, a few to a read, asking for 25 MiB of answers; read only once the
  // member has stopped reading (or, as before, every request was sent).
  constexpr int kRequests = 400;
  std::atomic<bool> all_sent{false};
  std::thread writer([&] {
    pb::Envelope request;
    request.mutable_put()->set_key("k");
    request.mutable_put()->set_value(std::string(16 * 1024, 'r'));
    for (int i = 0; i < kRequests; ++i) {
      request.set_id(static_cast<uint64_t>(i + 1));
      if (!client.Send(request)) break;
    }
    all_sent = true;
  });
  EXPECT_TRUE(Eventually(
      [&] { return all_sent || CounterValue("pharos_client_read_pauses_total") > pauses_before; }));
  int answered = 0;
  while (answered < kRequests) {
    auto reply = client.Next(std::chrono::seconds(10));
    if (!reply) break;
    ++answered;
  }
  writer.join();
  EXPECT_EQ(answered, kRequests);
  EXPECT_GT(CounterValue("pharos_client_read_pauses_total"), pauses_before);
  // What waited for the client: at most the bound and the answers to one read's requests.
  EXPECT_LE(most_unsent.load(), kPauseAt + 8 * kAnswerBytes);
}

// Before, an answer over the size clients accept went out whole, and the client dropped the
// connection with every other request on it.
TEST(ClientServiceTest, AnAnswerLargerThanClientsAcceptIsRefusedAloneWithAReason) {
  RunningService service(
      {.listen = "127.0.0.1:0", .max_answer_bytes = 1 << 20}, [](const pb::Envelope& request) {
        pb::Envelope out = Ok(request);
        if (request.id() == 1) {
          out.mutable_range_response()->add_kvs()->set_value(std::string(2 << 20, 'a'));
        }
        return out;
      });
  RawConnection client;
  ASSERT_TRUE(client.Connect("127.0.0.1:" + std::to_string(service.port())));
  pb::Envelope request;
  request.mutable_range()->set_key("k");
  for (uint64_t id : {1, 2}) {
    request.set_id(id);
    ASSERT_TRUE(client.Send(request));
  }
  auto large = client.Next(std::chrono::seconds(10));
  ASSERT_TRUE(large.has_value());
  EXPECT_EQ(large->id(), 1u);
  EXPECT_EQ(large->status().code(), pb::TOO_LARGE) << large->status().message();
  auto next = client.Next(std::chrono::seconds(10));
  ASSERT_TRUE(next.has_value()) << "the connection did not carry on";
  EXPECT_EQ(next->id(), 2u);
  EXPECT_EQ(next->status().code(), pb::OK);
}

// A member that failed at a request itself answers INTERNAL, which clients do not retry. Before,
// storage errors went out as UNAVAILABLE: a failed defragmentation or snapshot looked like a
// passing condition, and the SDK retried it.
TEST(ClientServiceTest, StorageFailuresAreAnsweredInternalNotUnavailable) {
  pb::Envelope request;
  request.set_id(3);
  for (StatusCode failed : {StatusCode::kIoError, StatusCode::kCorruption, StatusCode::kInternal}) {
    const pb::Envelope answer = Reply(request, Status(failed, "disk on fire"));
    EXPECT_EQ(answer.status().code(), pb::INTERNAL) << StatusCodeName(failed);
    EXPECT_EQ(client::StatusOf(answer).code(), StatusCode::kInternal) << StatusCodeName(failed);
  }
  const pb::Envelope unavailable = Reply(request, Status::Unavailable("no leader"));
  EXPECT_EQ(client::StatusOf(unavailable).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace pharos::registry
