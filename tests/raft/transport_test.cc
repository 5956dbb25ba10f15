#include "raft/transport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "common/asio.h"

namespace pharos::raft {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Runs the io_context until `done` holds or the deadline passes (no fixed sleeps).
template <typename Pred>
bool RunUntil(asio::io_context& io, Pred done, seconds deadline = seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    io.restart();
    io.run_for(milliseconds(5));
  }
  return true;
}

struct Endpoint {
  Endpoint(asio::io_context& io, uint64_t id, std::string listen = "127.0.0.1:0",
           int backoff_min_ms = 5) {
    TransportOptions o;
    o.self_id = id;
    o.listen = std::move(listen);
    o.snapshot_chunk_bytes = 64 * 1024;
    o.backoff_min_ms = backoff_min_ms;
    o.backoff_max_ms = std::max(50, backoff_min_ms);
    transport = std::make_unique<Transport>(
        io, o, [this](raftpb::Message m) { received.push_back(std::move(m)); },
        [this](uint64_t peer) { unreachable.push_back(peer); },
        [this](uint64_t peer, bool ok) { snapshots.emplace_back(peer, ok); });
    EXPECT_TRUE(transport->Start().ok());
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(transport->port()); }

  std::unique_ptr<Transport> transport;
  std::vector<raftpb::Message> received;
  std::vector<uint64_t> unreachable;
  std::vector<std::pair<uint64_t, bool>> snapshots;
};

raftpb::Message App(uint64_t from, uint64_t to, uint64_t index) {
  raftpb::Message m;
  m.set_type(raftpb::MSG_APP);
  m.set_from(from);
  m.set_to(to);
  m.set_index(index);
  return m;
}

TEST(TransportTest, MessagesFlowBothWaysInOrder) {
  asio::io_context io;
  Endpoint a(io, 1), b(io, 2);
  a.transport->AddPeer(2, b.address());
  b.transport->AddPeer(1, a.address());
  std::vector<raftpb::Message> batch;
  for (uint64_t i = 1; i <= 1000; ++i) batch.push_back(App(1, 2, i));
  a.transport->Send(batch);
  b.transport->Send({App(2, 1, 7)});
  ASSERT_TRUE(RunUntil(io, [&] { return b.received.size() == 1000 && a.received.size() == 1; }));
  for (uint64_t i = 0; i < 1000; ++i) EXPECT_EQ(b.received[i].index(), i + 1);
  EXPECT_EQ(a.received[0].index(), 7u);
}

TEST(TransportTest, DeadPeerIsReportedDoesNotBlockOthersAndIsReachedOnceBack) {
  asio::io_context io;
  Endpoint a(io, 1), b(io, 2);
  std::string dead_address;
  {
    Endpoint c(io, 3);
    dead_address = c.address();
  }  // c is gone: nothing listens there now
  a.transport->AddPeer(2, b.address());
  a.transport->AddPeer(3, dead_address);
  a.transport->Send({App(1, 3, 1), App(1, 2, 1)});
  ASSERT_TRUE(RunUntil(io, [&] { return !a.unreachable.empty() && b.received.size() == 1; }));
  EXPECT_EQ(a.unreachable[0], 3u);
  // Node 3 comes back on the same address; retransmissions get through after the backoff.
  Endpoint c(io, 3, dead_address);
  ASSERT_TRUE(RunUntil(io, [&] {
    if (c.received.empty()) a.transport->Send({App(1, 3, 2)});
    return !c.received.empty();
  }));
}

TEST(TransportTest, TheFirstMessageToARestartedPeerIsDelivered) {
  asio::io_context io;
  Endpoint a(io, 1);
  auto b = std::make_unique<Endpoint>(io, 2);
  const std::string address = b->address();
  a.transport->AddPeer(2, address);
  a.transport->Send({App(1, 2, 1)});
  ASSERT_TRUE(RunUntil(io, [&] { return b->received.size() == 1; }));
  // Node 2 stops (as a killed process would, its sockets closed) and comes back on the same
  // address, while node 1 has nothing to send it: node 1's connection is dead but never failed a
  // write. Its first message after the restart (a candidate's only pre-vote, say) must arrive
  // without a retransmission.
  b.reset();
  ASSERT_TRUE(RunUntil(io, [&] { return a.transport->stats().closed_by_peer == 1; }));
  b = std::make_unique<Endpoint>(io, 2, address);
  a.transport->Send({App(1, 2, 2)});
  ASSERT_TRUE(RunUntil(
      io, [&] { return b->received.size() == 1; }, seconds(3)));
  EXPECT_EQ(b->received[0].index(), 2u);
  EXPECT_TRUE(a.unreachable.empty());
}

TEST(TransportTest, APeerThatSpeaksIsReconnectedToWithoutWaitingOutTheBackoff) {
  asio::io_context io;
  // A backoff far beyond the test's deadline: only the peer's message can end the wait.
  Endpoint a(io, 1, "127.0.0.1:0", /*backoff_min_ms=*/600'000);
  std::string address;
  {
    Endpoint b(io, 2);
    address = b.address();
  }  // nothing listens there now
  a.transport->AddPeer(2, address);
  a.transport->Send({App(1, 2, 1)});
  ASSERT_TRUE(RunUntil(io, [&] { return !a.unreachable.empty(); }));  // waiting out its backoff
  // Node 2 comes back (a restarted member) and speaks first, as a restarted member's campaign
  // does.
  Endpoint b(io, 2, address);
  b.transport->AddPeer(1, a.address());
  b.transport->Send({App(2, 1, 7)});
  ASSERT_TRUE(RunUntil(io, [&] { return a.received.size() == 1; }));
  EXPECT_EQ(a.transport->stats().backoffs_cut_short, 1u);
  a.transport->Send({App(1, 2, 2)});
  ASSERT_TRUE(RunUntil(io, [&] { return b.received.size() == 1; }));
  EXPECT_EQ(b.received[0].index(), 2u);
}

TEST(TransportTest, SnapshotsStreamInChunksOnTheirOwnConnection) {
  asio::io_context io;
  Endpoint a(io, 1), b(io, 2);
  a.transport->AddPeer(2, b.address());
  raftpb::Message snap;
  snap.set_type(raftpb::MSG_SNAP);
  snap.set_from(1);
  snap.set_to(2);
  snap.mutable_snapshot()->mutable_metadata()->set_index(99);
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131);
  snap.mutable_snapshot()->set_data(data);
  a.transport->Send({snap, App(1, 2, 5)});
  ASSERT_TRUE(RunUntil(io, [&] { return b.received.size() == 2 && !a.snapshots.empty(); }));
  EXPECT_EQ(a.snapshots[0], std::make_pair(uint64_t{2}, true));
  const raftpb::Message* got = nullptr;
  for (const auto& m : b.received) {
    if (m.type() == raftpb::MSG_SNAP) got = &m;
  }
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->snapshot().metadata().index(), 99u);
  EXPECT_TRUE(got->snapshot().data() == data);
}

TEST(TransportTest, GarbageClosesOnlyThatConnection) {
  asio::io_context io;
  Endpoint a(io, 1), b(io, 2);
  asio::ip::tcp::socket raw(io);
  raw.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), b.transport->port()));
  const std::string garbage = "\xff\xff\xff\xffnot a frame";
  asio::write(raw, asio::buffer(garbage));
  bool closed = false;
  std::array<char, 16> buf;
  raw.async_read_some(asio::buffer(buf),
                      [&](const boost::system::error_code& ec, size_t) { closed = bool(ec); });
  ASSERT_TRUE(RunUntil(io, [&] { return closed; }));
  a.transport->AddPeer(2, b.address());
  a.transport->Send({App(1, 2, 1)});
  ASSERT_TRUE(RunUntil(io, [&] { return b.received.size() == 1; }));
}

}  // namespace
}  // namespace pharos::raft
