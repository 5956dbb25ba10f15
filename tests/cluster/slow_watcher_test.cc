// A watcher whose client stops reading: the member stops queueing its events for the socket once
// a few MiB wait there, lets the watch hub fall back to reading them from storage, and sends them
// on, every one in order, when the client reads again. Before, every event since the client
// stopped waited in the member's memory.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <string>

#include "client/client.h"
#include "client/txn.h"
#include "common/frame.h"
#include "tests/cluster/process_cluster.h"

namespace pharos::testing {
namespace {

// A client socket that writes one watch request and reads nothing until asked.
class RawConnection {
 public:
  explicit RawConnection(const std::string& endpoint) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    // A small receive buffer, so that what the member queues shows in the member, not here.
    const int small = 64 * 1024;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    const size_t colon = endpoint.rfind(':');
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(endpoint.substr(colon + 1))));
    inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }

  bool Send(const pb::Envelope& e) {
    std::string frame;
    AppendFrame(&frame, e.SerializeAsString());
    return write(fd_, frame.data(), frame.size()) == static_cast<ssize_t>(frame.size());
  }
  // The next envelope, or nullopt if none came before the deadline.
  std::optional<pb::Envelope> Next(std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      auto frame = decoder_.Next();
      if (!frame.ok()) return std::nullopt;
      if (frame->has_value()) {
        pb::Envelope e;
        if (!e.ParseFromString(**frame)) return std::nullopt;
        return e;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[64 * 1024];
      const ssize_t n = read(fd_, buf, sizeof(buf));
      if (n <= 0) return std::nullopt;
      decoder_.Append(std::string_view(buf, static_cast<size_t>(n)));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  FrameDecoder decoder_;
};

// A counter or gauge from the member's /metrics, or -1.
double Metric(const ProcessCluster& cluster, const std::string& name) {
  auto metrics = HttpGet(cluster.metrics(0), "/metrics");
  if (!metrics || metrics->first != 200) return -1;
  std::istringstream in(metrics->second);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

TEST(SlowWatcherTest, AClientThatStopsReadingCostsTheMemberABoundedBacklogAndMissesNothing) {
  ProcessCluster cluster(1);
  ASSERT_GE(cluster.WaitForLeader(), 0);
  RawConnection slow(cluster.client(0));
  ASSERT_TRUE(slow.connected());
  pb::Envelope create;
  create.set_id(1);
  create.mutable_watch_create()->set_key("/slow/");
  create.mutable_watch_create()->set_range_end(client::PrefixEnd("/slow/"));
  ASSERT_TRUE(slow.Send(create));
  auto created = slow.Next(std::chrono::seconds(5));
  ASSERT_TRUE(created && created->watch_response().created());
  const int64_t start = created->watch_response().header().revision();

  // 40 MiB of events for a client that reads none of them, 64 puts in flight.
  constexpr int kPuts = 10000;
  const std::string value(4096, 'v');
  client::Client writer({.endpoints = cluster.clients()});
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, failed = 0, sent = 0;
  std::function<void()> send_one = [&] {
    pb::Envelope put;
    {
      std::lock_guard lock(mu);
      if (sent == kPuts) return;
      put.mutable_put()->set_key("/slow/" + std::to_string(sent++));
    }
    put.mutable_put()->set_value(value);
    writer.CallAsync(std::move(put), {}, [&](Result<pb::Envelope> r) {
      {
        std::lock_guard lock(mu);
        ++done;
        if (!r.ok()) ++failed;
      }
      cv.notify_all();
      send_one();
    });
  };
  for (int i = 0; i < 64; ++i) send_one();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(120), [&] { return done == kPuts; }));
    ASSERT_EQ(failed, 0);
  }

  // The member holds a few MiB for the socket, not the 40 it was sent.
  EXPECT_GE(Metric(cluster, "pharos_watch_slow_reader_pauses_total"), 1);
  const double unsent = Metric(cluster, "pharos_client_unsent_bytes");
  EXPECT_GE(unsent, 0);
  EXPECT_LT(unsent, 8 << 20);

  // Read again: every put arrives, one revision after the other.
  int64_t next = start + 1;
  while (next <= start + kPuts) {
    auto e = slow.Next(std::chrono::seconds(30));
    ASSERT_TRUE(e.has_value()) << "nothing after revision " << next - 1;
    ASSERT_EQ(e->status().code(), pb::OK) << e->status().message();
    for (const pb::Event& ev : e->watch_response().events()) {
      ASSERT_EQ(ev.kv().mod_revision(), next) << "an event was lost or repeated";
      ++next;
    }
  }
}

}  // namespace
}  // namespace pharos::testing
