#include "raft/transport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <set>

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

TransportOptions TestOptions(uint64_t id, std::string listen = "127.0.0.1:0",
                             int backoff_min_ms = 5) {
  TransportOptions o;
  o.self_id = id;
  o.listen = std::move(listen);
  o.snapshot_chunk_bytes = 64 * 1024;
  o.backoff_min_ms = backoff_min_ms;
  o.backoff_max_ms = std::max(50, backoff_min_ms);
  return o;
}

struct Endpoint {
  Endpoint(asio::io_context& io, uint64_t id, std::string listen = "127.0.0.1:0",
           int backoff_min_ms = 5)
      : Endpoint(io, TestOptions(id, std::move(listen), backoff_min_ms)) {}
  Endpoint(asio::io_context& io, const TransportOptions& o) {
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
  ASSERT_TRUE(a.transport->AddPeer(2, b.address()).ok());
  ASSERT_TRUE(b.transport->AddPeer(1, a.address()).ok());
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
  ASSERT_TRUE(a.transport->AddPeer(2, b.address()).ok());
  ASSERT_TRUE(a.transport->AddPeer(3, dead_address).ok());
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
  ASSERT_TRUE(a.transport->AddPeer(2, address).ok());
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

// A member that ends every connection as soon as it brings a message (member 3, at the address
// member 1 has for member 2: a peer's old address, taken) is backed off from, as one that cannot
// be reached is. Before, every connect forgave the backoff, and each message made a connection
// of its own.
TEST(TransportTest, APeerThatEndsEveryConnectionAtOnceIsBackedOffFrom) {
  asio::io_context io;
  TransportOptions options = TestOptions(1);
  options.backoff_max_ms = 400;
  options.stable_connection_ms = 60'000;  // no connection lasts, however slow the machine
  Endpoint a(io, options), other(io, 3);
  ASSERT_TRUE(a.transport->AddPeer(2, other.address()).ok());
  // Member 2 itself, elsewhere, speaks to member 1 all the while: that cuts no wait short, or
  // each of its messages would bring another connection to member 3.
  Endpoint real(io, 2);
  ASSERT_TRUE(real.transport->AddPeer(1, a.address()).ok());
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(RunUntil(io, [&] {
    a.transport->Send({App(1, 2, 1)});  // one every 5 ms or more, as a leader's heartbeats come
    real.transport->Send({App(2, 1, 1)});
    return a.unreachable.size() >= 7;
  }));
  EXPECT_FALSE(a.received.empty());
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(other.received.empty());
  const Transport::Stats stats = a.transport->stats();
  // A connection for each failure, and one more for the first close (a restarted peer's), not
  // one per message. (A close that comes while a write is in flight counts as a failure too.)
  EXPECT_LE(stats.connects, a.unreachable.size() + 1) << stats.closed_young << " closed young";
  // And the waits grew: at least half of 5, 10, 20, 40, 80 and 160 ms before the seventh failure.
  EXPECT_GE(took, milliseconds(157));
}

// A peer that restarts, is down for a while, and restarts again soon after it came back: each
// restart is one close, and the first message after each goes out at once. The failed connects
// while it was down end the streak of closes that would otherwise look like a peer ending every
// connection.
TEST(TransportTest, APeerThatRestartsAgainAfterAnOutageIsReconnectedToAtOnce) {
  asio::io_context io;
  TransportOptions options = TestOptions(1);
  options.stable_connection_ms = 60'000;  // no connection lasts, however slow the machine
  Endpoint a(io, options);
  auto b = std::make_unique<Endpoint>(io, 2);
  const std::string address = b->address();
  ASSERT_TRUE(a.transport->AddPeer(2, address).ok());
  a.transport->Send({App(1, 2, 1)});
  ASSERT_TRUE(RunUntil(io, [&] { return b->received.size() == 1; }));
  b.reset();  // a restart: one young close
  ASSERT_TRUE(RunUntil(io, [&] { return a.transport->stats().closed_by_peer == 1; }));
  ASSERT_TRUE(RunUntil(io, [&] {  // and down for a while: connects fail
    if (a.unreachable.size() < 3) a.transport->Send({App(1, 2, 2)});
    return a.unreachable.size() >= 3;
  }));
  b = std::make_unique<Endpoint>(io, 2, address);
  ASSERT_TRUE(RunUntil(io, [&] {
    if (b->received.empty()) a.transport->Send({App(1, 2, 3)});
    return !b->received.empty();
  }));
  const size_t unreachable = a.unreachable.size();
  b.reset();  // restarted again, soon after it came back
  ASSERT_TRUE(RunUntil(io, [&] { return a.transport->stats().closed_by_peer == 2; }));
  b = std::make_unique<Endpoint>(io, 2, address);
  a.transport->Send({App(1, 2, 4)});
  ASSERT_TRUE(RunUntil(
      io, [&] { return b->received.size() == 1; }, seconds(3)));
  EXPECT_EQ(b->received[0].index(), 4u);
  EXPECT_EQ(a.unreachable.size(), unreachable);
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
  ASSERT_TRUE(a.transport->AddPeer(2, address).ok());
  a.transport->Send({App(1, 2, 1)});
  ASSERT_TRUE(RunUntil(io, [&] { return !a.unreachable.empty(); }));  // waiting out its backoff
  // Node 2 comes back (a restarted member) and speaks first, as a restarted member's campaign
  // does.
  Endpoint b(io, 2, address);
  ASSERT_TRUE(b.transport->AddPeer(1, a.address()).ok());
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
  ASSERT_TRUE(a.transport->AddPeer(2, b.address()).ok());
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
  ASSERT_TRUE(a.transport->AddPeer(2, b.address()).ok());
  a.transport->Send({App(1, 2, 1)});
  ASSERT_TRUE(RunUntil(io, [&] { return b.received.size() == 1; }));
}

TEST(TransportTest, ThePeerAddressIsAnIpv4LiteralOrAHostNameAndThePort) {
  asio::io_context io;
  Endpoint a(io, 1);
  for (const char* bad : {"[::1]:2380", "::1:2380", "10.0.0.1", ":2380", "10.0.0.1:99999",
                          "10.0.0.1:23x", "bad_host:2380", "-node:2380", "node-a.:2380"}) {
    EXPECT_FALSE(a.transport->AddPeer(2, bad).ok()) << bad;
  }
  for (const char* good : {"10.0.0.1:2380", "localhost:2380", "node-a:2380",
                           "pharos-1.pharos.default.svc.cluster.local:2380"}) {
    EXPECT_TRUE(a.transport->AddPeer(2, good).ok()) << good;
  }
}

// Members named as a Kubernetes StatefulSet or a Compose file names them: messages and snapshots
// reach a peer by its name, and our own name is what the listener and the outgoing sockets use.
TEST(TransportTest, APeerNamedByHostNameIsReachedThroughItsAddress) {
  asio::io_context io;
  Endpoint a(io, TestOptions(1, "localhost:0"));
  Endpoint b(io, 2);
  ASSERT_TRUE(a.transport->AddPeer(2, "localhost:" + std::to_string(b.transport->port())).ok());
  ASSERT_TRUE(b.transport->AddPeer(1, "localhost:" + std::to_string(a.transport->port())).ok());
  raftpb::Message snap;
  snap.set_type(raftpb::MSG_SNAP);
  snap.set_from(1);
  snap.set_to(2);
  snap.mutable_snapshot()->mutable_metadata()->set_index(9);
  snap.mutable_snapshot()->set_data(std::string(200 * 1024, 'x'));
  a.transport->Send({App(1, 2, 1)});
  b.transport->Send({App(2, 1, 3)});
  ASSERT_TRUE(RunUntil(io, [&] { return b.received.size() == 1 && a.received.size() == 1; }));
  EXPECT_EQ(a.received[0].index(), 3u);
  // A snapshot goes where the peer's link found it (before that, it fails and Raft retries).
  a.transport->Send({snap, App(1, 2, 2)});
  ASSERT_TRUE(RunUntil(io, [&] { return b.received.size() == 3 && !a.snapshots.empty(); }));
  EXPECT_EQ(a.snapshots[0], std::make_pair(uint64_t{2}, true));
  EXPECT_TRUE(a.unreachable.empty());
}

// A resolver the test controls (TransportOptions::look_up): each name's answer, and names whose
// lookups are held until released. Its state is shared with the hook, since a lookup's thread
// may outlive the test; on its way out it releases every held lookup.
class FakeNames {
 public:
  ~FakeNames() {
    std::lock_guard lock(state_->mu);
    state_->held.clear();
    state_->changed.notify_all();
  }
  void Answer(const std::string& name, const std::string& address) {
    std::lock_guard lock(state_->mu);
    state_->answers[name] = address;
  }
  void Hold(const std::string& name) {
    std::lock_guard lock(state_->mu);
    state_->held.insert(name);
  }
  void Release(const std::string& name) {
    std::lock_guard lock(state_->mu);
    state_->held.erase(name);
    state_->changed.notify_all();
  }
  int Started(const std::string& name) {
    std::lock_guard lock(state_->mu);
    return state_->started[name];
  }
  int Running() {
    std::lock_guard lock(state_->mu);
    return state_->running;
  }
  std::function<Result<std::string>(const std::string&)> Hook() {
    return [state = state_](const std::string& name) -> Result<std::string> {
      std::unique_lock lock(state->mu);
      ++state->started[name];
      ++state->running;
      state->changed.wait(lock, [&] { return state->held.count(name) == 0; });
      --state->running;
      auto it = state->answers.find(name);
      if (it == state->answers.end()) {
        return Status::Unavailable("cannot resolve host name '" + name + "': not in the table");
      }
      return it->second;
    };
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable changed;
    std::map<std::string, std::string> answers;
    std::set<std::string> held;
    std::map<std::string, int> started;
    int running = 0;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

// A name that does not resolve (yet: a peer's pod not scheduled) is a peer that cannot be
// reached, reported as such and retried with backoff; it stalls nobody else, and the failure is
// said once.
TEST(TransportTest, APeerWhoseNameDoesNotResolveIsUnreachableAndStallsNobody) {
  FakeNames names;
  asio::io_context io;
  std::vector<std::pair<uint64_t, std::string>> lookups_failed;
  TransportOptions options = TestOptions(1);
  options.look_up = names.Hook();
  options.lookup_failed = [&](uint64_t peer, const std::string& error) {
    lookups_failed.emplace_back(peer, error);
  };
  Endpoint a(io, options), b(io, 2);
  ASSERT_TRUE(a.transport->AddPeer(2, b.address()).ok());
  ASSERT_TRUE(a.transport->AddPeer(3, "no-such-member:2380").ok());
  raftpb::Message snap;
  snap.set_type(raftpb::MSG_SNAP);
  snap.set_from(1);
  snap.set_to(3);
  a.transport->Send({App(1, 3, 1), snap, App(1, 2, 1)});
  ASSERT_TRUE(RunUntil(io, [&] {
    return !a.unreachable.empty() && !a.snapshots.empty() && b.received.size() == 1;
  }));
  EXPECT_EQ(a.unreachable[0], 3u);
  EXPECT_EQ(a.snapshots[0], std::make_pair(uint64_t{3}, false));
  ASSERT_TRUE(RunUntil(io, [&] {
    if (a.unreachable.size() < 4) a.transport->Send({App(1, 3, 2)});
    return a.unreachable.size() >= 4;
  }));
  EXPECT_GE(names.Started("no-such-member"), 4);  // looked up again for every connection
  ASSERT_EQ(lookups_failed.size(), 1u);
  EXPECT_EQ(lookups_failed[0].first, 3u);
  EXPECT_NE(lookups_failed[0].second.find("cannot resolve host name 'no-such-member'"),
            std::string::npos)
      << lookups_failed[0].second;
}

// Member 1 reaches member 2 by its name, "member-b", which the test's resolver answers with
// 127.0.0.2; then member 2 goes away, to come back elsewhere under the same name.
class ANamedPeerThatMoves : public ::testing::Test {
 protected:
  void SetUp() override {
    options.look_up = names.Hook();
    a = std::make_unique<Endpoint>(io, options);
    auto b = std::make_unique<Endpoint>(io, 2, "127.0.0.2:0");
    port = std::to_string(b->transport->port());
    names.Answer("member-b", "127.0.0.2");
    ASSERT_TRUE(a->transport->AddPeer(2, "member-b:" + port).ok());
    a->transport->Send({App(1, 2, 1)});
    ASSERT_TRUE(RunUntil(io, [&] { return b->received.size() == 1; }));
  }

  // Sends to member 2 until `done` holds: a message may go into a connection already ended.
  template <typename Pred>
  bool SendUntil(Pred done) {
    return RunUntil(io, [&] {
      if (!done()) a->transport->Send({App(1, 2, 2)});
      return done();
    });
  }

  FakeNames names;
  asio::io_context io;
  TransportOptions options = TestOptions(1);
  std::unique_ptr<Endpoint> a;
  std::string port;  // member 2's, wherever it goes
};

// A member restarted elsewhere (a rescheduled pod) keeps its name, not its address: the next
// connections find it at the address its name now has.
TEST_F(ANamedPeerThatMoves, IsFoundUnderItsNameAtItsNewAddress) {
  names.Answer("member-b", "127.0.0.3");
  Endpoint moved(io, 2, "127.0.0.3:" + port);
  ASSERT_TRUE(SendUntil([&] { return !moved.received.empty(); }));
}

// Lookups run side by side: one that hangs (a DNS server that does not answer) holds up no other
// peer's, and its answer, when it comes after the connect gave up, serves the next attempt.
TEST(TransportTest, ASlowLookupHoldsUpNoOtherPeerAndItsAnswerServesTheNextAttempt) {
  FakeNames names;
  names.Hold("slow-member");
  names.Answer("slow-member", "127.0.0.1");
  names.Answer("quick-member", "127.0.0.1");
  asio::io_context io;
  std::vector<std::pair<uint64_t, std::string>> lookups_failed;
  TransportOptions options = TestOptions(1);
  options.connect_timeout_ms = 100;
  options.look_up = names.Hook();
  options.lookup_failed = [&](uint64_t peer, const std::string& error) {
    lookups_failed.emplace_back(peer, error);
  };
  Endpoint a(io, options), slow(io, 2), quick(io, 3);
  ASSERT_TRUE(
      a.transport->AddPeer(2, "slow-member:" + std::to_string(slow.transport->port())).ok());
  ASSERT_TRUE(
      a.transport->AddPeer(3, "quick-member:" + std::to_string(quick.transport->port())).ok());
  a.transport->Send({App(1, 2, 1)});
  // Sent again until it arrives: on a busy machine quick-member's own lookup and connect may
  // outlive the short deadline too.
  ASSERT_TRUE(RunUntil(io, [&] {
    if (quick.received.empty()) a.transport->Send({App(1, 3, 1)});
    return !quick.received.empty() &&
           std::find(a.unreachable.begin(), a.unreachable.end(), 2u) != a.unreachable.end();
  }));
  EXPECT_TRUE(slow.received.empty());
  std::vector<std::string> slow_failures;
  for (const auto& [peer, error] : lookups_failed) {
    if (peer == 2) slow_failures.push_back(error);
  }
  EXPECT_EQ(slow_failures,
            std::vector<std::string>{"looking 'slow-member' up took longer than 100 ms"});
  EXPECT_EQ(names.Started("slow-member"), 1);  // one lookup at a time for a peer

  names.Release("slow-member");
  ASSERT_TRUE(RunUntil(io, [&] {
    if (slow.received.empty()) a.transport->Send({App(1, 2, 2)});
    return !slow.received.empty();
  }));
}

// getaddrinfo cannot be cancelled: neither the transport's end nor its io_context's waits for a
// lookup in progress (Asio's resolver made the io_context's destruction wait for it, and a
// member's exit with it).
TEST(TransportTest, ATransportAndItsIoContextEndWithoutWaitingForALookup) {
  FakeNames names;
  names.Hold("stuck-member");
  auto io = std::make_unique<asio::io_context>();
  TransportOptions options = TestOptions(1);
  options.look_up = names.Hook();
  auto a = std::make_unique<Endpoint>(*io, options);
  ASSERT_TRUE(a->transport->AddPeer(2, "stuck-member:2380").ok());
  a->transport->Send({App(1, 2, 1)});
  ASSERT_TRUE(RunUntil(*io, [&] { return names.Running() == 1; }));
  a.reset();
  io.reset();
  EXPECT_EQ(names.Running(), 1);  // still looking up; the transport and its io_context are gone
  names.Release("stuck-member");  // its answer is handed to nobody
}

// A member restarted elsewhere left its old address to another member, and a connection made to
// the last address known reached that one: it takes no message meant for someone else, and the
// messages reach the peer at its new address.
TEST_F(ANamedPeerThatMoves, AMessageForItThatReachesAnotherMemberClosesTheConnection) {
  Endpoint other(io, 3, "127.0.0.2:" + port);  // member 3 now has member 2's old address
  names.Hold("member-b");  // and member 2's name still resolves to it for a while
  ASSERT_TRUE(SendUntil([&] { return other.transport->stats().misdirected > 0; }));
  EXPECT_TRUE(other.received.empty());

  Endpoint moved(io, 2, "127.0.0.3:" + port);
  names.Answer("member-b", "127.0.0.3");
  names.Release("member-b");
  ASSERT_TRUE(SendUntil([&] { return !moved.received.empty(); }));
  EXPECT_TRUE(other.received.empty());
}

// The connection went to where the peer was while a fresh lookup ran, and something there took
// it (not a member: nothing closes it). When the lookup says the name moved, the connection
// moves with it.
TEST_F(ANamedPeerThatMoves, MovesAConnectionThatWentToWhereItWas) {
  // Something else listens at the old address now, and reads everything in silence.
  asio::ip::tcp::acceptor squatter(io,
                                   asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.2"),
                                                           static_cast<uint16_t>(std::stoi(port))));
  std::list<asio::ip::tcp::socket> taken;
  std::array<char, 4096> sink;
  std::function<void(asio::ip::tcp::socket&)> drain = [&](asio::ip::tcp::socket& c) {
    c.async_read_some(asio::buffer(sink), [&](const boost::system::error_code& ec, size_t) {
      if (!ec) drain(c);
    });
  };
  squatter.async_accept([&](const boost::system::error_code& ec, asio::ip::tcp::socket c) {
    if (ec) return;
    taken.push_back(std::move(c));
    drain(taken.back());
  });
  names.Hold("member-b");
  ASSERT_TRUE(SendUntil([&] { return !taken.empty(); }));

  Endpoint moved(io, 2, "127.0.0.3:" + port);
  names.Answer("member-b", "127.0.0.3");
  names.Release("member-b");
  ASSERT_TRUE(SendUntil([&] { return !moved.received.empty(); }));
}

// Every change to the member table names every member again (the server calls AddPeer for each).
// Before, each call replaced the peer's link: what it had queued was dropped, and the old
// connection's aborted operations reported the peer unreachable.
TEST(TransportTest, AddingAPeerAgainAtTheSameAddressKeepsItsConnection) {
  asio::io_context io;
  Endpoint a(io, 1), b(io, 2);
  ASSERT_TRUE(a.transport->AddPeer(2, b.address()).ok());
  a.transport->Send({App(1, 2, 1)});
  ASSERT_TRUE(RunUntil(io, [&] { return b.received.size() == 1; }));
  // Queued, not yet written (the flush runs at the end of this turn), then named again.
  a.transport->Send({App(1, 2, 2)});
  ASSERT_TRUE(a.transport->AddPeer(2, b.address()).ok());
  a.transport->Send({App(1, 2, 3)});
  ASSERT_TRUE(RunUntil(io, [&] { return b.received.size() == 3; }));
  EXPECT_EQ(b.received[1].index(), 2u);
  EXPECT_EQ(b.received[2].index(), 3u);
  EXPECT_EQ(a.transport->stats().connects, 1u);
  EXPECT_TRUE(a.unreachable.empty());
}

// A socket listening on a free loopback port, for tests that play a peer by hand.
struct LoopbackListener {
  explicit LoopbackListener(asio::io_context& io, int receive_buffer_bytes = 0) : acceptor(io) {
    const asio::ip::tcp::endpoint any(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(any.protocol());
    if (receive_buffer_bytes > 0) {
      acceptor.set_option(asio::socket_base::receive_buffer_size(receive_buffer_bytes));
    }
    acceptor.bind(any);
  }
  std::string address() const {
    return "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  }
  asio::ip::tcp::acceptor acceptor;
};

// A listener whose accept queue is full: the kernel drops further SYNs, so a connect to it is
// never answered, as to a host that is gone or behind a network that drops packets.
struct UnansweringListener : LoopbackListener {
  explicit UnansweringListener(asio::io_context& io) : LoopbackListener(io) {
    acceptor.listen(1);
    // Enough connections to fill the queue; none is ever accepted.
    for (int i = 0; i < 4; ++i) {
      auto& s = fillers.emplace_back(io);
      s.async_connect(acceptor.local_endpoint(), [](const boost::system::error_code&) {});
    }
  }
  std::list<asio::ip::tcp::socket> fillers;
};

TEST(TransportTest, AConnectThatIsNeverAnsweredIsGivenUpAfterTheConnectTimeout) {
  asio::io_context io;
  UnansweringListener silent(io);
  auto options = TestOptions(1);
  options.connect_timeout_ms = 200;
  Endpoint a(io, options);
  ASSERT_TRUE(RunUntil(io, [&] { return true; }));  // the fillers' connects go out first
  ASSERT_TRUE(a.transport->AddPeer(2, silent.address()).ok());
  a.transport->Send({App(1, 2, 1)});
  // The kernel alone retries the SYN for about two minutes.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(RunUntil(
      io, [&] { return !a.unreachable.empty(); }, seconds(5)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(150));
  EXPECT_EQ(a.transport->stats().connects, 0u);
}

// Accepts connections and never reads from them, with a small receive buffer: a peer that stopped
// reading (a stopped process, a host whose network went away with the data unacknowledged).
struct NonReadingPeer : LoopbackListener {
  explicit NonReadingPeer(asio::io_context& io) : LoopbackListener(io, 4096) {
    acceptor.listen();
    Accept();
  }
  void Accept() {
    acceptor.async_accept([this](const boost::system::error_code& ec, asio::ip::tcp::socket s) {
      if (ec) return;
      accepted.push_back(std::move(s));
      Accept();
    });
  }
  std::vector<asio::ip::tcp::socket> accepted;
};

// Node 1, whose peer timeout is short, with node 2 played by a NonReadingPeer.
struct SendingToAStuckPeer : ::testing::Test {
  static TransportOptions ShortPeerTimeout() {
    TransportOptions o = TestOptions(1);
    o.peer_timeout_ms = 500;
    return o;
  }
  void SetUp() override { ASSERT_TRUE(a.transport->AddPeer(2, stuck.address()).ok()); }
  asio::io_context io;
  NonReadingPeer stuck{io};
  Endpoint a{io, ShortPeerTimeout()};
};

TEST_F(SendingToAStuckPeer, TheConnectionEndsAfterThePeerTimeout) {
  // Far more than the two sockets' buffers hold, far fewer messages than the queue's bound.
  std::vector<raftpb::Message> appends;
  for (uint64_t i = 1; i <= 200; ++i) {
    raftpb::Message m = App(1, 2, i);
    m.add_entries()->set_data(std::string(64 * 1024, 'x'));
    appends.push_back(std::move(m));
  }
  a.transport->Send(appends);
  // Before, the write waited for as long as the peer's kernel kept its window shut: for good.
  ASSERT_TRUE(RunUntil(
      io, [&] { return !a.unreachable.empty(); }, seconds(10)));
  EXPECT_EQ(a.unreachable[0], 2u);
}

TEST_F(SendingToAStuckPeer, ASnapshotFailsAfterThePeerTimeout) {
  raftpb::Message snap;
  snap.set_type(raftpb::MSG_SNAP);
  snap.set_from(1);
  snap.set_to(2);
  snap.mutable_snapshot()->set_data(std::string(16 << 20, 's'));
  a.transport->Send({snap});
  // The core sends the follower nothing until it hears how the transfer ended.
  ASSERT_TRUE(RunUntil(
      io, [&] { return !a.snapshots.empty(); }, seconds(10)));
  EXPECT_EQ(a.snapshots[0], std::make_pair(uint64_t{2}, false));
}

TEST(TransportTest, ASnapshotForAnUnknownPeerIsReportedFailed) {
  asio::io_context io;
  Endpoint a(io, 1);
  raftpb::Message snap;
  snap.set_type(raftpb::MSG_SNAP);
  snap.set_from(1);
  snap.set_to(9);
  a.transport->Send({snap});
  EXPECT_TRUE(a.snapshots.empty());  // reported later, not from inside Send
  ASSERT_TRUE(RunUntil(io, [&] { return !a.snapshots.empty(); }));
  EXPECT_EQ(a.snapshots[0], std::make_pair(uint64_t{9}, false));
}

}  // namespace
}  // namespace pharos::raft
