#include "raft/transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <system_error>
#include <thread>

#include "common/accept_retry.h"
#include "common/asio.h"
#include "common/frame.h"
#include "common/host_address.h"
#include "raft/snapshot_stream.h"

namespace pharos::raft {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr char kMessageTag = 'M';
constexpr char kChunkTag = 'S';

bool SplitHostPort(const std::string& address, std::string* host, uint16_t* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = address.substr(0, colon);
  const std::string digits = address.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const int p = std::stoi(digits);
  if (p > 65535) return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

// TransportOptions::peer_timeout_ms on one socket: unacknowledged data ends it after the timeout
// (TCP_USER_TIMEOUT, which also decides when failed keepalive probes end it), and probes start
// after a second idle, so that a peer gone without a FIN is found on idle connections too.
// Failures are ignored: the connection then only lacks the bound, as it did before.
void BoundPeerSilence(tcp::socket& socket, int timeout_ms) {
  const int fd = socket.native_handle();
  const unsigned user_timeout = static_cast<unsigned>(std::max(timeout_ms, 1));
  const int on = 1, idle_s = 1, interval_s = 1, probes = std::max(1, timeout_ms / 1000);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
  (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof interval_s);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
}

// A new socket for a connection to a peer, bound to our own peer host (transport.h; its address,
// looked up at Start when it is a name) and with its silence bounded. An error when any step
// fails: a socket left unbound would leave from another address, and per-node firewall rules
// would no longer partition this node.
boost::system::error_code OpenPeerSocket(tcp::socket& socket, const asio::ip::address_v4& bind_ip,
                                         int peer_timeout_ms) {
  boost::system::error_code ec;
  socket.open(tcp::v4(), ec);
  if (ec) return ec;
  if (!bind_ip.is_unspecified()) socket.bind(tcp::endpoint(bind_ip, 0), ec);
  if (ec) return ec;
  BoundPeerSilence(socket, peer_timeout_ms);
  return ec;
}

std::string Frame(char tag, const google::protobuf::MessageLite& payload) {
  std::string body(1, tag);
  payload.AppendToString(&body);
  std::string frame;
  AppendFrame(&frame, body);
  return frame;
}

// What every connection object shares with the transport; outlives the Transport while
// handlers drain, and tells them to stop.
struct Shared {
  asio::io_context& io;
  TransportOptions options;
  Transport::Receive receive;
  Transport::Unreachable unreachable;
  Transport::SnapshotDone snapshot_done;
  // A message from this peer arrived: it is up (set by the transport, called by inbound
  // connections).
  std::function<void(uint64_t peer)> heard_from;
  // Our own peer host's address (TransportOptions::bind_host), looked up at Start.
  asio::ip::address_v4 bind_ip;
  Transport::Stats stats;
  bool stopped = false;
  std::mt19937_64 rng{std::random_device{}()};
  // Closed by Stop: a lookup that ends after it hands nothing to the io_context, which may be
  // gone by then.
  struct LookupGate {
    std::mutex mu;
    bool open = true;
  };
  std::shared_ptr<LookupGate> lookups = std::make_shared<LookupGate>();
};

// Looks a peer's name up on a thread of its own, and hands the answer to `done` on the
// io_context's thread unless the transport has stopped meanwhile (`done` must then hold nothing
// of the io_context's: it is destroyed on the lookup's thread). Not Asio's resolver: it runs the
// lookups of a whole io_context one at a time on one thread, so one slow DNS answer held up every
// other peer's, and the io_context's destruction waited for it (getaddrinfo cannot be
// cancelled), which held a member's exit through the resolver's timeouts.
void LookUp(const std::shared_ptr<Shared>& s, const std::string& host,
            std::function<void(Result<std::string>)> done) {
  auto answer = std::make_shared<std::function<void(Result<std::string>)>>(std::move(done));
  try {
    std::thread([gate = s->lookups, io = &s->io, look_up = s->options.look_up, host,
                 answer]() mutable {
      Result<std::string> found = look_up ? look_up(host) : NumericHost(host);
      std::lock_guard lock(gate->mu);
      if (!gate->open) return;
      asio::post(*io, [found = std::move(found), answer]() { (*answer)(found); });
    }).detach();
  } catch (const std::system_error& e) {
    // No thread to be had (a limit on processes): an answer all the same, on this thread but not
    // from inside the caller.
    asio::post(s->io, [answer, why = std::string(e.what()), host] {
      (*answer)(Status::Unavailable("cannot look '" + host + "' up: " + why));
    });
  }
}

// An answer of LookUp as an address to connect to; an error message when it is none.
std::optional<tcp::endpoint> EndpointOf(const std::string& host, uint16_t port,
                                        const Result<std::string>& found, std::string* error) {
  if (!found.ok()) {
    *error = found.status().message();
    return std::nullopt;
  }
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address_v4(*found, ec);
  if (ec) {
    *error = "'" + host + "' resolved to '" + *found + "', not an IPv4 address";
    return std::nullopt;
  }
  return tcp::endpoint(ip, port);
}

// The outbound connection to one peer, connected lazily and re-established with backoff.
//
// Every asynchronous operation is tagged with the generation of the socket it was started on, and
// its handler does nothing once the socket was closed or replaced: a late completion from an old
// socket (a connect or a write aborted by Close, a write that completed just before the peer's
// FIN was read) can neither report the peer unreachable nor mark a closed socket connected.
class PeerLink : public std::enable_shared_from_this<PeerLink> {
 public:
  PeerLink(std::shared_ptr<Shared> shared, uint64_t id, std::string host, uint16_t port)
      : s_(std::move(shared)),
        id_(id),
        host_(std::move(host)),
        port_(port),
        socket_(s_->io),
        timer_(s_->io) {
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address_v4(host_, ec);
    if (!ec) known_ = tcp::endpoint(ip, port_);
    named_ = bool(ec);
  }

  // Where the peer was last found (its literal address, or what its name last resolved to).
  std::optional<tcp::endpoint> known() const { return known_; }

  void Enqueue(std::string frame) {
    if (queue_.size() >= s_->options.max_queued_messages) {
      ++s_->stats.dropped;
      if (s_->unreachable) s_->unreachable(id_);
      return;
    }
    queue_.push_back(std::move(frame));
    if (connected_) {
      // At the end of this event-loop turn, with every other message made in it (one Ready
      // sends several to each peer): one write for all of them.
      if (flush_posted_ || writing_) return;
      flush_posted_ = true;
      asio::post(socket_.get_executor(), [self = shared_from_this()] {
        self->flush_posted_ = false;
        if (!self->s_->stopped && self->connected_) self->Flush();
      });
    } else if (!connecting_ && !waiting_) {
      Connect();
    }
  }

  void Close() {
    EndSocket();
    timer_.cancel();
    queue_.clear();
    waiting_ = false;
  }

  // The peer just sent us a message, so it is up: a reconnection waiting out the backoff (which
  // grew towards backoff_max_ms while the peer was down) need not wait any longer. Without this a
  // restarted member heard nothing from the leader for up to a second, campaigned in vain, and
  // its reads found no leader to answer them. Not while the peer's address keeps ending our
  // connections at once: the peer speaks from elsewhere (it moved, and its name still gives the
  // old address), and each message would bring another connection there.
  void PeerIsUp() {
    if (!waiting_ || young_closes_ > 1) return;
    ++generation_;  // the pending wait's handler does nothing now
    waiting_ = false;
    backoff_ms_ = 0;
    timer_.cancel();
    ++s_->stats.backoffs_cut_short;
    if (!queue_.empty()) Connect();
  }

 private:
  // Closes the socket; every handler of an operation started on it will do nothing. A
  // connection that lasted forgives the failures before it, ends at once included.
  void EndSocket() {
    if (Lasted()) {
      backoff_ms_ = 0;
      young_closes_ = 0;
    }
    ++generation_;
    waiting_for_lookup_ = false;  // a lookup that ends now only updates known_
    boost::system::error_code ignored;
    socket_.close(ignored);
    connected_ = connecting_ = writing_ = false;
  }

  void Connect() {
    EndSocket();
    connecting_ = true;
    socket_ = tcp::socket(s_->io);
    if (OpenPeerSocket(socket_, s_->bind_ip, s_->options.peer_timeout_ms)) {
      ConnectFailed();
      return;
    }
    // A name is looked up again for every connection, so that a peer that moved is found; the
    // connection goes meanwhile to where the last lookup found it, and waits for the lookup only
    // when none has succeeded yet. A name that does not resolve fails the connect, as a peer
    // that does not answer does.
    if (named_ && !lookup_running_) StartLookup();
    if (known_) {
      StartConnect(*known_);
    } else {
      waiting_for_lookup_ = true;
    }
    // The deadline covers the wait for the lookup too; the lookup itself goes on, and what it
    // finds serves the next attempt.
    timer_.expires_after(std::chrono::milliseconds(s_->options.connect_timeout_ms));
    timer_.async_wait(
        [self = shared_from_this(), generation = generation_](const boost::system::error_code& ec) {
          if (ec || self->s_->stopped || generation != self->generation_) return;
          if (!self->connecting_) return;
          if (self->waiting_for_lookup_) {
            self->LookupFailed("looking '" + self->host_ + "' up took longer than " +
                               std::to_string(self->s_->options.connect_timeout_ms) + " ms");
          }
          self->ConnectFailed();  // given up: the connect's handler is now stale
        });
  }

  void StartConnect(const tcp::endpoint& peer) {
    target_ = peer;
    socket_.async_connect(peer, [self = shared_from_this(),
                                 generation = generation_](const boost::system::error_code& ec) {
      if (self->s_->stopped || generation != self->generation_) return;
      self->OnConnect(ec);
    });
  }

  void StartLookup() {
    lookup_running_ = true;
    std::weak_ptr<PeerLink> weak = shared_from_this();
    LookUp(s_, host_, [weak](Result<std::string> found) {
      if (auto self = weak.lock(); self && !self->s_->stopped) self->OnLookup(found);
    });
  }

  void OnLookup(const Result<std::string>& found) {
    lookup_running_ = false;
    std::string error;
    if (auto peer = EndpointOf(host_, port_, found, &error)) {
      known_ = peer;
      lookup_failing_ = false;
      // The connection went to the last address while this lookup ran, and the name has moved:
      // what answers there now may be another member (a pod that got the old address).
      if ((connected_ || connecting_) && !waiting_for_lookup_ && target_ != *peer) {
        return Moved();
      }
    } else {
      LookupFailed(error);
    }
    if (!waiting_for_lookup_) return;
    waiting_for_lookup_ = false;
    if (known_) {
      StartConnect(*known_);
    } else {
      OnConnect(asio::error::host_not_found);
    }
  }

  // As when the peer closes the connection: what a write in flight carried may be lost, and Raft
  // must hear so; otherwise the next message connects to the new address.
  void Moved() {
    const bool lost = writing_;
    EndSocket();
    if (lost) return Failed();
    if (!queue_.empty()) Connect();
  }

  // Said once, until a lookup succeeds again.
  void LookupFailed(const std::string& error) {
    if (!lookup_failing_ && s_->options.lookup_failed) s_->options.lookup_failed(id_, error);
    lookup_failing_ = true;
  }

  void OnConnect(const boost::system::error_code& ec) {
    connecting_ = false;
    timer_.cancel();
    if (ec) {
      ConnectFailed();
      return;
    }
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    connected_ = true;
    connected_at_ = std::chrono::steady_clock::now();
    // A connect forgives the backoff, unless the peer has been ending every connection at once:
    // then only one that lasts does (EndSocket).
    if (young_closes_ == 0) backoff_ms_ = 0;
    ++s_->stats.connects;
    WatchForClose();
    Flush();
  }

  // The peer never writes on this connection, so a read completes only when the connection
  // ends. Without it a dead peer's connection looked healthy until a write to it failed: the
  // first message after the peer restarted went into the dead socket and was lost. That message
  // was a survivor's first pre-vote after a leader crashed, and the failover waited a whole
  // election timeout more for the next one.
  void WatchForClose() {
    socket_.async_read_some(asio::buffer(probe_),
                            [self = shared_from_this(), generation = generation_](
                                const boost::system::error_code& ec, size_t) {
                              if (self->s_->stopped || generation != self->generation_) return;
                              self->OnClosedByPeer(ec);
                            });
  }

  void OnClosedByPeer(const boost::system::error_code& ec) {
    // The peer's process ended (a FIN, or a reset when it died with data unread). What a write
    // in flight carried may be lost, and Raft must hear so; likewise when the connection ended
    // by a timeout (peer_timeout_ms), since the peer is not known to be up.
    const bool lost = writing_ || (ec != asio::error::eof && ec != asio::error::connection_reset);
    const bool young = EndedYoung();
    EndSocket();
    if (lost) {
      Failed();
      return;
    }
    ++s_->stats.closed_by_peer;
    if (young) ++s_->stats.closed_young;
    // A peer that restarted ends a connection once, and the next message reconnects at once, as
    // does one already queued. One that ends every connection as soon as it is made (a member at
    // this peer's old address, refusing messages meant for another) is backed off from.
    if (young && young_closes_ > 1) {
      Failed();
      return;
    }
    if (!queue_.empty()) Connect();
  }

  // Counts a connection that ends before it lasted, whoever ended it.
  bool EndedYoung() {
    const bool young = connected_ && !Lasted();
    if (young) ++young_closes_;
    return young;
  }

  // Whether the connection is up and has been for stable_connection_ms.
  bool Lasted() const {
    return connected_ && std::chrono::steady_clock::now() - connected_at_ >=
                             std::chrono::milliseconds(s_->options.stable_connection_ms);
  }

  void Flush() {
    if (writing_ || queue_.empty()) return;
    writing_ = true;
    // Everything queued goes in one write: fewer syscalls under load. The batch is the write's
    // own, so that a write on a new socket never refills a buffer an old one still points to.
    auto batch = std::make_shared<std::string>();
    size_t n = 0;
    while (!queue_.empty() && batch->size() < (1 << 20)) {
      *batch += std::move(queue_.front());
      queue_.pop_front();
      ++n;
    }
    asio::async_write(socket_, asio::buffer(*batch),
                      [self = shared_from_this(), batch, n, generation = generation_](
                          const boost::system::error_code& ec, size_t) {
                        if (self->s_->stopped || generation != self->generation_) return;
                        self->writing_ = false;
                        if (ec) {
                          self->EndedYoung();
                          self->Failed();
                          return;
                        }
                        self->s_->stats.sent += n;
                        self->Flush();
                      });
  }

  // Nothing answered there: whatever ended connections at once before is gone (a peer that
  // restarts is down for a while, then closes a connection once), and so is the streak.
  void ConnectFailed() {
    young_closes_ = 0;
    Failed();
  }

  // Drops what is queued (Raft retransmits what matters), reports the peer unreachable and
  // tries again after a jittered, growing delay.
  void Failed() {
    EndSocket();
    s_->stats.dropped += queue_.size();
    queue_.clear();
    if (s_->unreachable) s_->unreachable(id_);
    backoff_ms_ = backoff_ms_ == 0 ? s_->options.backoff_min_ms
                                   : std::min(backoff_ms_ * 2, s_->options.backoff_max_ms);
    const int jittered = backoff_ms_ / 2 + static_cast<int>(s_->rng() % (backoff_ms_ / 2 + 1));
    waiting_ = true;
    timer_.expires_after(std::chrono::milliseconds(jittered));
    timer_.async_wait(
        [self = shared_from_this(), generation = generation_](const boost::system::error_code& ec) {
          if (ec || self->s_->stopped || generation != self->generation_) return;
          self->waiting_ = false;
          if (!self->queue_.empty()) self->Connect();
        });
  }

  std::shared_ptr<Shared> s_;
  uint64_t id_;
  std::string host_;  // an IPv4 literal or a name
  uint16_t port_;
  bool named_ = false;
  std::optional<tcp::endpoint> known_;
  tcp::endpoint target_;  // where the connection in progress, or made, goes
  bool lookup_running_ = false;
  bool waiting_for_lookup_ = false;  // the connection in progress has no address without it
  tcp::socket socket_;
  // The connect's deadline, then the backoff's wait: never both at once.
  asio::steady_timer timer_;
  std::deque<std::string> queue_;
  bool connected_ = false, connecting_ = false, writing_ = false, waiting_ = false;
  bool flush_posted_ = false;
  bool lookup_failing_ = false;  // the last lookup of host_ failed or was slow (reported once)
  int backoff_ms_ = 0;
  std::chrono::steady_clock::time_point connected_at_;
  int young_closes_ = 0;  // connections in a row that ended before they lasted
  // Changes whenever the socket is closed or replaced and whenever a backoff wait is cut short.
  uint64_t generation_ = 0;
  std::array<char, 1> probe_;
};

// One snapshot transfer on its own connection. Its frames are made one at a time as the
// connection takes them: made all at once, on the raft thread, a large snapshot was copied three
// times over before the first byte left, and no heartbeat went out meanwhile.
class SnapshotSender : public std::enable_shared_from_this<SnapshotSender> {
 public:
  // `known`: where the peer's link last found it. A peer named by a name its link has not found
  // yet fails the transfer (Raft tries again): a lookup per transfer would start a thread per
  // attempt while DNS hangs.
  SnapshotSender(std::shared_ptr<Shared> shared, uint64_t peer, std::optional<tcp::endpoint> known,
                 raftpb::Message&& snap)
      : s_(std::move(shared)),
        peer_(peer),
        known_(known),
        socket_(s_->io),
        deadline_(s_->io),
        chunks_(std::move(snap), s_->options.snapshot_chunk_bytes) {}

  void Start() {
    if (OpenPeerSocket(socket_, s_->bind_ip, s_->options.peer_timeout_ms)) {
      Done(false);
      return;
    }
    // A transfer's writes are bounded by peer_timeout_ms (OpenPeerSocket); its connect here.
    deadline_.expires_after(std::chrono::milliseconds(s_->options.connect_timeout_ms));
    deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec && !self->connected_) self->Done(false);
    });
    if (!known_) {
      // Posted: the caller is in the middle of handing over a Ready.
      asio::post(s_->io, [self = shared_from_this()] { self->Done(false); });
      return;
    }
    Connect(*known_);
  }

 private:
  void Connect(const tcp::endpoint& peer) {
    socket_.async_connect(peer, [self = shared_from_this()](const boost::system::error_code& err) {
      if (self->done_) return;
      self->deadline_.cancel();
      if (err) {
        self->Done(false);
        return;
      }
      self->connected_ = true;
      self->WriteNext();
    });
  }

  void WriteNext() {
    if (s_->stopped || done_) return;
    if (chunks_.done()) {
      Done(true);
      return;
    }
    frame_ = Frame(kChunkTag, chunks_.Next());
    asio::async_write(socket_, asio::buffer(frame_),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        if (ec) {
                          self->Done(false);
                          return;
                        }
                        self->WriteNext();
                      });
  }

  void Done(bool ok) {
    if (done_) return;
    done_ = true;
    boost::system::error_code ignored;
    deadline_.cancel();  // its handler holds this sender, and the snapshot with it
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    socket_.close(ignored);
    if (!s_->stopped && s_->snapshot_done) s_->snapshot_done(peer_, ok);
  }

  std::shared_ptr<Shared> s_;
  uint64_t peer_;
  std::optional<tcp::endpoint> known_;
  tcp::socket socket_;
  asio::steady_timer deadline_;
  SnapshotSplitter chunks_;
  std::string frame_;
  bool connected_ = false, done_ = false;
};

// A connection a peer opened to us: messages, or the chunks of one snapshot.
class Inbound : public std::enable_shared_from_this<Inbound> {
 public:
  Inbound(std::shared_ptr<Shared> shared, tcp::socket socket)
      : s_(std::move(shared)), socket_(std::move(socket)), decoder_(s_->options.max_frame_bytes) {}

  void Start() { Read(); }
  void Close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void Read() {
    socket_.async_read_some(
        asio::buffer(buffer_),
        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
          if (ec || self->s_->stopped) return;  // closed: a broken snapshot stream is dropped
          self->decoder_.Append(std::string_view(self->buffer_.data(), n));
          if (!self->Drain()) {
            self->Close();
            return;
          }
          self->Read();
        });
  }

  // A message for another member came here because its sender's lookup was stale: a member that
  // restarted elsewhere left its address to us. Closed, the sender looks the name up again.
  bool ForUs(const raftpb::Message& m) {
    if (s_->options.self_id == 0 || m.to() == s_->options.self_id) return true;
    ++s_->stats.misdirected;
    return false;
  }

  // Returns false on a bad frame or a message for another member: the connection is closed (the
  // peer reconnects).
  bool Drain() {
    for (;;) {
      auto frame = decoder_.Next();
      if (!frame.ok()) return false;
      if (!frame->has_value()) return true;
      const std::string& body = **frame;
      if (body.empty()) return false;
      if (body[0] == kMessageTag) {
        raftpb::Message m;
        if (!m.ParseFromArray(body.data() + 1, static_cast<int>(body.size() - 1))) return false;
        if (!ForUs(m)) return false;
        ++s_->stats.received;
        if (s_->heard_from) s_->heard_from(m.from());
        if (s_->receive) s_->receive(std::move(m));
      } else if (body[0] == kChunkTag) {
        raftpb::SnapshotChunk chunk;
        if (!chunk.ParseFromArray(body.data() + 1, static_cast<int>(body.size() - 1))) {
          return false;
        }
        auto done = assembler_.Add(chunk);
        if (!done.ok()) return false;
        if (done->has_value()) {
          if (!ForUs(**done)) return false;
          ++s_->stats.received;
          if (s_->receive) s_->receive(std::move(**done));
        }
      } else {
        return false;
      }
    }
  }

  std::shared_ptr<Shared> s_;
  tcp::socket socket_;
  FrameDecoder decoder_;
  SnapshotAssembler assembler_;
  std::array<char, 64 * 1024> buffer_;
};

}  // namespace

class Transport::Impl {
 public:
  Impl(asio::io_context& io, TransportOptions options, Receive receive, Unreachable unreachable,
       SnapshotDone snapshot_done)
      : shared_(std::make_shared<Shared>(Shared{io,
                                                std::move(options),
                                                std::move(receive),
                                                std::move(unreachable),
                                                std::move(snapshot_done),
                                                {},
                                                {}})),
        acceptor_(io),
        accept_retry_(io) {
    // Inbound connections call it only while the transport runs (Stop comes before ~Impl).
    shared_->heard_from = [this](uint64_t peer) {
      auto it = peers_.find(peer);
      if (it != peers_.end()) it->second.link->PeerIsUp();
    };
  }

  Status Start() {
    std::string host;
    uint16_t port = 0;
    if (!SplitHostPort(shared_->options.listen, &host, &port)) {
      return Status::InvalidArgument("bad listen address '" + shared_->options.listen + "'");
    }
    // Names are looked up once, here, before the loop runs (this blocks).
    auto listen_ip = NumericHost(host);
    if (!listen_ip.ok()) return listen_ip.status();
    auto bind_ip = NumericHost(shared_->options.bind_host);
    if (!bind_ip.ok()) return bind_ip.status();
    boost::system::error_code ec;
    shared_->bind_ip = asio::ip::make_address_v4(*bind_ip, ec);
    if (ec) {
      return Status::InvalidArgument("our own peer host '" + shared_->options.bind_host +
                                     "' is not an IPv4 address");
    }
    const auto ip = asio::ip::make_address(*listen_ip, ec);
    if (ec) return Status::InvalidArgument("bad listen host '" + host + "'");
    tcp::endpoint ep(ip, port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Status::Unavailable("cannot listen on " + shared_->options.listen + ": " +
                                 ec.message());
    Accept();
    return Status::Ok();
  }

  uint16_t port() const {
    boost::system::error_code ec;
    return acceptor_.local_endpoint(ec).port();
  }

  Status AddPeer(uint64_t id, const std::string& address) {
    std::string host;
    uint16_t port = 0;
    if (!SplitHostPort(address, &host, &port) || !(IsIpv4Literal(host) || IsHostName(host))) {
      return Status::InvalidArgument("peer address '" + address +
                                     "' is not an IPv4 address or a host name, and a port");
    }
    // Every change to the member table names every member again: a peer whose address did not
    // change keeps its connection, else its queued messages were dropped and the old
    // connection's aborted operations reported it unreachable.
    if (auto it = peers_.find(id);
        it != peers_.end() && it->second.host == host && it->second.port == port) {
      return Status::Ok();
    }
    RemovePeer(id);
    peers_[id] = Peer{host, port, std::make_shared<PeerLink>(shared_, id, host, port)};
    return Status::Ok();
  }

  void RemovePeer(uint64_t id) {
    auto it = peers_.find(id);
    if (it == peers_.end()) return;
    it->second.link->Close();
    peers_.erase(it);
  }

  void Send(const std::vector<raftpb::Message>& messages) {
    for (const raftpb::Message& m : messages) {
      SendOne(m);  // a snapshot is copied for its transfer
    }
  }
  // A snapshot's data goes to its transfer uncopied.
  void Send(std::vector<raftpb::Message>&& messages) {
    for (raftpb::Message& m : messages) SendOne(std::move(m));
  }

  void Stop() {
    shared_->stopped = true;
    {
      std::lock_guard lock(shared_->lookups->mu);
      shared_->lookups->open = false;
    }
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
    for (auto& [id, p] : peers_) p.link->Close();
    peers_.clear();
    for (auto& weak : inbound_) {
      if (auto in = weak.lock()) in->Close();
    }
    inbound_.clear();
  }

  Stats stats() const { return shared_->stats; }

 private:
  // Frames `m` for its peer's link; a snapshot gets a transfer of its own, which takes `m`.
  void SendOne(const raftpb::Message& m) {
    if (m.type() == raftpb::MSG_SNAP) {
      SendOne(raftpb::Message(m));
      return;
    }
    if (const Peer* peer = Destination(m.to())) peer->link->Enqueue(Frame(kMessageTag, m));
  }
  void SendOne(raftpb::Message&& m) {
    if (m.type() != raftpb::MSG_SNAP) {
      SendOne(static_cast<const raftpb::Message&>(m));
      return;
    }
    const uint64_t to = m.to();
    if (const Peer* peer = Destination(to)) {
      std::make_shared<SnapshotSender>(shared_, to, peer->link->known(), std::move(m))->Start();
    } else if (!shared_->stopped && shared_->snapshot_done) {
      // The core waits for the outcome before it sends this peer anything else. Posted: the
      // caller is in the middle of handing over a Ready.
      asio::post(shared_->io, [shared = shared_, to] {
        if (!shared->stopped) shared->snapshot_done(to, false);
      });
    }
  }

  struct Peer {
    std::string host;  // an IPv4 literal or a name
    uint16_t port;
    std::shared_ptr<PeerLink> link;
  };
  // The peer a message goes to; nullptr (the message counted as dropped) when the transport is
  // stopped or the peer unknown.
  const Peer* Destination(uint64_t to) {
    if (shared_->stopped) return nullptr;
    auto it = peers_.find(to);
    if (it == peers_.end()) {
      ++shared_->stats.dropped;
      return nullptr;
    }
    return &it->second;
  }

  void Accept() {
    acceptor_.async_accept(
        [this, shared = shared_](const boost::system::error_code& ec, tcp::socket socket) {
          if (shared->stopped) return;
          if (ec) {
            ++shared->stats.accept_errors;
            (void)AcceptAgainAfterPause(ec, acceptor_, accept_retry_, [this] { Accept(); });
            return;
          }
          // A peer gone without a FIN would otherwise hold this connection, and any partial
          // snapshot on it, for good.
          BoundPeerSilence(socket, shared->options.peer_timeout_ms);
          auto in = std::make_shared<Inbound>(shared, std::move(socket));
          inbound_.push_back(in);
          in->Start();
          // Forget connections that have gone away.
          std::erase_if(inbound_, [](const std::weak_ptr<Inbound>& w) { return w.expired(); });
          Accept();
        });
  }

  std::shared_ptr<Shared> shared_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  std::map<uint64_t, Peer> peers_;
  std::vector<std::weak_ptr<Inbound>> inbound_;
};

Transport::Transport(asio::io_context& io, TransportOptions options, Receive receive,
                     Unreachable unreachable, SnapshotDone snapshot_done)
    : impl_(std::make_unique<Impl>(io, std::move(options), std::move(receive),
                                   std::move(unreachable), std::move(snapshot_done))) {}

Transport::~Transport() { impl_->Stop(); }

Status Transport::Start() { return impl_->Start(); }
uint16_t Transport::port() const { return impl_->port(); }
Status Transport::AddPeer(uint64_t id, const std::string& address) {
  return impl_->AddPeer(id, address);
}
void Transport::RemovePeer(uint64_t id) { impl_->RemovePeer(id); }
void Transport::Send(const std::vector<raftpb::Message>& messages) { impl_->Send(messages); }
void Transport::Send(std::vector<raftpb::Message>&& messages) { impl_->Send(std::move(messages)); }
void Transport::Stop() { impl_->Stop(); }
Transport::Stats Transport::stats() const { return impl_->stats(); }

}  // namespace pharos::raft
